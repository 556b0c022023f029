package service

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/host/selector"
)

// testCatalogue returns a catalogue for the service tests: a native random-selector twin
// (the host's builtin choice, which is the stock one) so that no selector module is needed.
func testCatalogue(t testing.TB) *component.Catalogue {
	t.Helper()
	cat := component.NewCatalogue()
	require.NoError(t, cat.Add(component.Twin{Kind: component.KindSelector, Name: "random-selector",
		Native: component.SelectorTwin{New: func() component.Selector { return selector.Builtin{} }}}))
	return cat
}
