package component

import (
	"fmt"
	"strings"
)

// TopicMatches reports whether topic matches pattern. Topics are dot-separated segments; in
// a pattern "*" matches exactly one segment and "**", as the last segment, one or more
// segments ("orders.*" matches orders.created, not orders.eu.created; "orders.**" matches
// both; "**" alone matches every topic). Other segments match themselves exactly.
func TopicMatches(pattern, topic string) bool {
	for {
		pseg, prest, pmore := strings.Cut(pattern, ".")
		tseg, trest, tmore := strings.Cut(topic, ".")
		switch {
		case pseg == "**" && !pmore:
			return tseg != ""
		case pseg == "*":
			if tseg == "" {
				return false
			}
		case pseg != tseg:
			return false
		}
		if pmore != tmore {
			return false
		}
		if !pmore {
			return true
		}
		pattern, topic = prest, trest
	}
}

// ValidateTopicPattern reports a problem with a publishes pattern: an empty segment, or
// "**" anywhere but last, or a wildcard inside a segment.
func ValidateTopicPattern(p string) error {
	segs := strings.Split(p, ".")
	for i, s := range segs {
		switch {
		case s == "":
			return fmt.Errorf("pattern %q has an empty segment", p)
		case s == "**" && i != len(segs)-1:
			return fmt.Errorf("pattern %q: ** may only be the last segment", p)
		case s != "*" && s != "**" && strings.Contains(s, "*"):
			return fmt.Errorf("pattern %q: * must be a whole segment", p)
		}
	}
	return nil
}
