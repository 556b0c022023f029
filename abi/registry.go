package abi

// Records of the registry plugins' operations (ABI.md, "Registry plugins"), exchanged as
// JSON: "register" and "deregister" take a RegistryRecord, "get" a RegistryName and answers
// RegistryServices, "list" answers RegistryNames, "watch" takes a RegistryWatch and answers
// RegistryServices.
type (
	// RegistryRecord is a service to register for TTLMS milliseconds, or to deregister.
	RegistryRecord struct {
		Service *Service `json:"service"`
		TTLMS   int64    `json:"ttl_ms,omitempty"`
	}
	// RegistryName names a service.
	RegistryName struct {
		Name string `json:"name"`
	}
	// RegistryWatch asks for a service's registrations once they differ from Index.
	RegistryWatch struct {
		Name  string `json:"name"`
		Index uint64 `json:"index"`
	}
	// RegistryServices is a service's registrations, one per version, with the index a
	// watch continues from.
	RegistryServices struct {
		Services []*Service `json:"services"`
		Index    uint64     `json:"index,omitempty"`
	}
	// RegistryNames lists service names.
	RegistryNames struct {
		Names []string `json:"names"`
	}
)
