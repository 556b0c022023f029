package broker_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/internal/broker"
)

// TestSubscriberInWAT subscribes a module written in WebAssembly text without any SDK: it
// takes the JSON objects published to its topic and refuses other bodies with a 400, so the
// counts show the module itself read each message.
func TestSubscriberInWAT(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t)
			sb := e.broker(mode)
			s, err := sb.Subscribe(context.Background(), "events", "", broker.ModuleHandler(e.load(watsubWasm)))
			require.NoError(t, err)
			pub := e.broker(mode)

			for i := range 5 {
				require.NoError(t, pub.Publish(context.Background(), "events", &broker.Message{Body: fmt.Appendf(nil, `{"n":%d}`, i)}))
			}
			assert.EqualValues(t, 5, s.Received())

			err = pub.Publish(context.Background(), "events", &broker.Message{Body: []byte(`[1,2]`)})
			require.ErrorIs(t, err, broker.ErrDropped)
			assert.Contains(t, err.Error(), "not a JSON object")
			assert.EqualValues(t, 5, s.Received())
			assert.EqualValues(t, 1, s.Failed())
			assert.Zero(t, pub.Stats().Retries, "a refusal is not retried")
		})
	}
}
