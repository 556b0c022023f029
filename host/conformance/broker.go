package conformance

// brokerSuite is the broker kind's acceptance suite.
func brokerSuite() suite {
	return suite{}
}
