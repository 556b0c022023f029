package conformance

// registrySuite is the registry kind's acceptance suite.
func registrySuite() suite {
	return suite{}
}
