package guest

import "fmt"

// Publish publishes body on topic through the host's broker and returns once every
// subscriber has it, or the host gave up on some of them; it fails when the topic has
// subscribers and none got the message, or the module's publishes grant does not cover the
// topic. The message's Content-Type is application/json when body is valid JSON and
// application/octet-stream otherwise. A failure is an *Error whose code says why (see ABI.md,
// "publish").
func Publish(topic string, body []byte) error {
	if topic == "" {
		return Errorf(400, "publish: the topic is empty")
	}
	if status := publish(topic, body); status != 0 {
		return Errorf(status, "publish to %s failed: %s", topic, publishStatusText(status))
	}
	return nil
}

func publishStatusText(status int32) string {
	switch status {
	case 400:
		return "bad topic"
	case 403:
		return "the module's publishes grant does not cover the topic"
	case 408:
		return "deadline exceeded"
	case 502:
		return "no subscriber got the message"
	case 503:
		return "no broker in this host"
	}
	return fmt.Sprintf("status %d", status)
}
