//go:build !wasip1

package guest

// publish has no host to publish through in a native build: it reports 503, no broker.
func publish(topic string, body []byte) int32 {
	return 503
}
