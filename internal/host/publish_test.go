package host

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/internal/guestbuild"
)

// publisherModule loads the handlers/publisher module at path with pub as its Publisher,
// granted every topic.
func publisherModule(t *testing.T, path string, pub Publisher, interrupt bool) *Module {
	t.Helper()
	return grantedPublisherModule(t, path, pub, interrupt, Grants{Publishes: []string{"**"}})
}

// grantedPublisherModule loads the handlers/publisher module at path with pub and grants.
func grantedPublisherModule(t *testing.T, path string, pub Publisher, interrupt bool, grants Grants) *Module {
	t.Helper()
	return load(t, newRuntime(t, nil), path, ModuleOptions{PoolSize: 1, InterruptOnDeadline: interrupt, Publisher: pub, Grants: grants})
}

func publishCall(ctx context.Context, m *Module, body string) (*Response, error) {
	return m.Call(ctx, &Request{Endpoint: "Events.Publish", ContentType: "application/json", Body: []byte(body)})
}

// TestPublish runs handlers/publisher, which publishes through the publish host function.
func TestPublish(t *testing.T) {
	path, err := guestbuild.Go(context.Background(), "./handlers/publisher", t.TempDir())
	require.NoError(t, err)
	t.Run("reaches the publisher", func(t *testing.T) { testPublishReachesThePublisher(t, path) })
	t.Run("statuses", func(t *testing.T) { testPublishStatuses(t, path) })
}

func testPublishReachesThePublisher(t *testing.T, path string) {
	type got struct {
		topic  string
		header map[string]string
		body   string
	}
	ch := make(chan got, 1)
	m := publisherModule(t, path, PublisherFunc(func(ctx context.Context, topic string, header map[string]string, body []byte) error {
		ch <- got{topic, header, string(body)}
		return nil
	}), true)
	rsp, err := publishCall(context.Background(), m, `{"topic":"events","message":{"order":42}}`)
	require.NoError(t, err)
	assert.JSONEq(t, `{"published":true}`, string(rsp.Body))
	g := <-ch
	assert.Equal(t, "events", g.topic)
	assert.Equal(t, `{"order":42}`, g.body)
	assert.Equal(t, map[string]string{"Content-Type": "application/json"}, g.header)
}

func testPublishStatuses(t *testing.T, path string) {
	cases := []struct {
		name string
		pub  Publisher
		code int32
	}{
		{"no broker", nil, 503},
		{"refused", PublisherFunc(func(context.Context, string, map[string]string, []byte) error {
			return abi.NewError("", 400, "bad topic")
		}), 400},
		{"dropped", PublisherFunc(func(context.Context, string, map[string]string, []byte) error {
			return errors.New("delivery dropped: node x")
		}), 502},
		{"deadline", PublisherFunc(func(ctx context.Context, _ string, _ map[string]string, _ []byte) error {
			<-ctx.Done()
			return ctx.Err()
		}), 408},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := publisherModule(t, path, c.pub, false)
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			_, err := publishCall(ctx, m, `{"topic":"events","message":{}}`)
			var ae *abi.Error
			if c.code == 408 {
				// Even with interrupt off, a guest waiting in publish at its deadline is
				// stopped there rather than resumed past it.
				require.ErrorIs(t, err, ErrGuestFault)
				require.ErrorIs(t, err, context.DeadlineExceeded)
			} else {
				require.ErrorAs(t, err, &ae)
				assert.Equal(t, c.code, ae.Code)
				assert.Contains(t, ae.Detail, "publish to events failed")
			}

			// The instance survives a failed publish.
			_, err = publishCall(context.Background(), m, `{"topic":"","message":{}}`)
			require.ErrorAs(t, err, &ae)
			assert.EqualValues(t, 400, ae.Code)
		})
	}
	t.Run("deadline with interrupt", func(t *testing.T) {
		m := publisherModule(t, path, PublisherFunc(func(ctx context.Context, _ string, _ map[string]string, _ []byte) error {
			<-ctx.Done()
			return ctx.Err()
		}), true)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := publishCall(ctx, m, `{"topic":"events","message":{}}`)
		// The guest is stopped at the deadline, or returns the 408 first: a timeout either way.
		var ae *abi.Error
		if errors.As(err, &ae) {
			assert.EqualValues(t, 408, ae.Code)
		} else {
			require.ErrorIs(t, err, ErrGuestFault)
			require.ErrorIs(t, err, context.DeadlineExceeded)
		}
	})
}
