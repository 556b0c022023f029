package conformance

// transportSuite is the transport kind's acceptance suite.
func transportSuite() suite {
	return suite{}
}
