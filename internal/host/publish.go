package host

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/tetratelabs/wazero/api"

	"github.com/microhost/microhost/abi"
)

// importPublish is the host function a module calls to publish a message:
// (topic i32, topic_len i32, body i32, body_len i32) -> i32 status.
const importPublish = "publish"

// Publisher publishes messages for modules, through the publish host function. header holds
// the message's headers (its Content-Type at least). Publish returns once the message is
// delivered, or with an error: an *abi.Error for a bad request, the context's error at the
// call's deadline, any other error when the topic had subscribers and none got the message.
type Publisher interface {
	Publish(ctx context.Context, topic string, header map[string]string, body []byte) error
}

// PublisherFunc adapts a function to a Publisher.
type PublisherFunc func(ctx context.Context, topic string, header map[string]string, body []byte) error

// Publish calls f.
func (f PublisherFunc) Publish(ctx context.Context, topic string, header map[string]string, body []byte) error {
	return f(ctx, topic, header, body)
}

// Statuses the publish host function returns.
const (
	publishOK          = 0
	publishForbidden   = 403
	publishTimeout     = 408
	publishBadGate     = 502
	publishNoBroker    = 503
	publishMaxTopicLen = 1024
)

// publish is the publish host function. It copies the topic and body out of the guest and
// publishes them through the module's Publisher, blocking the guest until the broker is
// done: 0 when a subscriber got the message (or there were none), else a status code.
func publish(ctx context.Context, mod api.Module, stack []uint64) {
	s := inCall(ctx, importPublish)
	topic := string(read(mod, importPublish, api.DecodeU32(stack[0]), api.DecodeU32(stack[1])))
	body := append([]byte(nil), read(mod, importPublish, api.DecodeU32(stack[2]), api.DecodeU32(stack[3]))...)
	stack[0] = api.EncodeI32(s.publish(s.ctx, topic, body))
	s.stopIfDone()
}

func (s *callState) publish(ctx context.Context, topic string, body []byte) int32 {
	logger := s.logger.With("endpoint", s.req.Endpoint, "topic", topic)
	if s.publisher == nil {
		logger.Warn("publish: this module has no broker")
		return publishNoBroker
	}
	if topic == "" || len(topic) > publishMaxTopicLen {
		logger.Warn("publish: bad topic")
		return 400
	}
	if !s.grants.mayPublish(topic) {
		logger.Warn("publish refused: not granted", "err", publishRefused(s.module, topic))
		return publishForbidden
	}
	ct := "application/octet-stream"
	if json.Valid(body) {
		ct = "application/json"
	}
	err := s.publisher.Publish(ctx, topic, map[string]string{"Content-Type": ct}, body)
	var ae *abi.Error
	switch {
	case err == nil:
		return publishOK
	case errors.As(err, &ae):
		logger.Warn("publish failed", "err", err)
		if ae.Code < 400 || ae.Code > 599 {
			return 500
		}
		return ae.Code
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		logger.Warn("publish stopped at the call's deadline", "err", err)
		return publishTimeout
	default:
		logger.Warn("publish failed", "err", err)
		return publishBadGate
	}
}

// publishState serves the publish host function (publish.go).
type publishState struct {
	publisher Publisher
}
