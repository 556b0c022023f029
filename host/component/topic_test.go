package component

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestTopicMatches(t *testing.T) {
	cases := []struct {
		pattern, topic string
		want           bool
	}{
		{"events", "events", true},
		{"events", "events.x", false},
		{"events", "event", false},
		{"orders.*", "orders.created", true},
		{"orders.*", "orders", false},
		{"orders.*", "orders.eu.created", false},
		{"orders.*.created", "orders.eu.created", true},
		{"orders.*.created", "orders.eu.deleted", false},
		{"orders.**", "orders.created", true},
		{"orders.**", "orders.eu.created", true},
		{"orders.**", "orders", false},
		{"**", "anything", true},
		{"**", "any.thing.at.all", true},
		{"*", "events", true},
		{"*", "a.b", false},
		{"*", "", false},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, TopicMatches(c.pattern, c.topic), "%q ~ %q", c.pattern, c.topic)
	}
}

func TestValidateTopicPattern(t *testing.T) {
	for _, ok := range []string{"events", "orders.*", "orders.**", "**", "*.created"} {
		assert.NoError(t, ValidateTopicPattern(ok), ok)
	}
	for _, bad := range []string{"", "orders.", "**.x", "ord*", "a..b"} {
		assert.Error(t, ValidateTopicPattern(bad), bad)
	}
}
