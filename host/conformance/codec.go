package conformance

// codecSuite is the codec kind's acceptance suite.
func codecSuite() suite {
	return suite{}
}
