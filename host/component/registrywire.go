package component

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/abi/proto/envelope"
)

// The registry kind's records, encoded by hand with protowire exactly as
// abi/proto/registry.proto describes them (messages RegistryRequest and RegistryReply and
// the messages they hold). Registry calls are not a hot path; the encoders are small so that
// registry modules stay small.

// RegistryRequest is the input record of every registry operation. Which fields an
// operation reads is in abi/registry.md: register takes Service and TTL, deregister
// Service, get Name, list nothing, watch Name and Index; every operation takes Settings.
type RegistryRequest struct {
	Service  *abi.Service
	TTL      time.Duration
	Name     string
	Index    uint64
	Settings RegistrySettings
}

// RegistryReply is the output record of get, list and watch (register and deregister answer
// an empty body): get and watch fill Services (watch also Index), list fills Names.
type RegistryReply struct {
	Services []*abi.Service
	Index    uint64
	Names    []string
}

// Field numbers of abi/proto/registry.proto.
const (
	reqService  protowire.Number = 1
	reqTTLMS    protowire.Number = 2
	reqName     protowire.Number = 3
	reqIndex    protowire.Number = 4
	reqSettings protowire.Number = 15

	repServices protowire.Number = 1
	repIndex    protowire.Number = 2
	repNames    protowire.Number = 3

	setDir          protowire.Number = 1
	setAddresses    protowire.Number = 2
	setScheme       protowire.Number = 3
	setToken        protowire.Number = 4
	setDeregisterMS protowire.Number = 5
	setWatchWaitMS  protowire.Number = 6
	setPollMS       protowire.Number = 7

	svcName      protowire.Number = 1
	svcVersion   protowire.Number = 2
	svcMetadata  protowire.Number = 3
	svcEndpoints protowire.Number = 4
	svcNodes     protowire.Number = 5

	epName     protowire.Number = 1
	epRequest  protowire.Number = 2
	epResponse protowire.Number = 3
	epMetadata protowire.Number = 4

	regNodeID       protowire.Number = 1
	regNodeAddress  protowire.Number = 2
	regNodeMetadata protowire.Number = 3
)

// Marshal encodes the request.
func (r *RegistryRequest) Marshal() []byte {
	var b []byte
	if r.Service != nil {
		b = appendMessage(b, reqService, appendService(nil, r.Service))
	}
	b = appendInt(b, reqTTLMS, uint64(r.TTL.Milliseconds()))
	b = appendString(b, reqName, r.Name)
	b = appendInt(b, reqIndex, r.Index)
	if s := appendSettings(nil, &r.Settings); len(s) > 0 {
		b = appendMessage(b, reqSettings, s)
	}
	return b
}

// Unmarshal decodes a request, replacing r's content.
func (r *RegistryRequest) Unmarshal(b []byte) error {
	*r = RegistryRequest{}
	return eachRegistryField(b, func(num protowire.Number, typ protowire.Type, v uint64, raw []byte) error {
		var err error
		switch {
		case num == reqService && typ == protowire.BytesType:
			r.Service = new(abi.Service)
			err = unmarshalService(raw, r.Service)
		case num == reqTTLMS && typ == protowire.VarintType:
			r.TTL = time.Duration(int64(v)) * time.Millisecond
		case num == reqName && typ == protowire.BytesType:
			r.Name = string(raw)
		case num == reqIndex && typ == protowire.VarintType:
			r.Index = v
		case num == reqSettings && typ == protowire.BytesType:
			err = unmarshalSettings(raw, &r.Settings)
		}
		return err
	})
}

// Marshal encodes the reply.
func (r *RegistryReply) Marshal() []byte {
	var b []byte
	for _, s := range r.Services {
		if s != nil {
			b = appendMessage(b, repServices, appendService(nil, s))
		}
	}
	b = appendInt(b, repIndex, r.Index)
	for _, n := range r.Names {
		b = protowire.AppendTag(b, repNames, protowire.BytesType)
		b = protowire.AppendString(b, n)
	}
	return b
}

// Unmarshal decodes a reply, replacing r's content.
func (r *RegistryReply) Unmarshal(b []byte) error {
	*r = RegistryReply{}
	return eachRegistryField(b, func(num protowire.Number, typ protowire.Type, v uint64, raw []byte) error {
		switch {
		case num == repServices && typ == protowire.BytesType:
			s := new(abi.Service)
			if err := unmarshalService(raw, s); err != nil {
				return err
			}
			r.Services = append(r.Services, s)
		case num == repIndex && typ == protowire.VarintType:
			r.Index = v
		case num == repNames && typ == protowire.BytesType:
			r.Names = append(r.Names, string(raw))
		}
		return nil
	})
}

func appendSettings(b []byte, s *RegistrySettings) []byte {
	b = appendString(b, setDir, s.Dir)
	for _, a := range s.Addresses {
		b = protowire.AppendTag(b, setAddresses, protowire.BytesType)
		b = protowire.AppendString(b, a)
	}
	b = appendString(b, setScheme, s.Scheme)
	b = appendString(b, setToken, s.Token)
	b = appendInt(b, setDeregisterMS, uint64(s.DeregisterCriticalAfter.Milliseconds()))
	b = appendInt(b, setWatchWaitMS, uint64(s.WatchWait.Milliseconds()))
	b = appendInt(b, setPollMS, uint64(s.PollInterval.Milliseconds()))
	return b
}

func unmarshalSettings(b []byte, s *RegistrySettings) error {
	ms := func(v uint64) time.Duration { return time.Duration(int64(v)) * time.Millisecond }
	return eachRegistryField(b, func(num protowire.Number, typ protowire.Type, v uint64, raw []byte) error {
		switch {
		case num == setDir && typ == protowire.BytesType:
			s.Dir = string(raw)
		case num == setAddresses && typ == protowire.BytesType:
			s.Addresses = append(s.Addresses, string(raw))
		case num == setScheme && typ == protowire.BytesType:
			s.Scheme = string(raw)
		case num == setToken && typ == protowire.BytesType:
			s.Token = string(raw)
		case num == setDeregisterMS && typ == protowire.VarintType:
			s.DeregisterCriticalAfter = ms(v)
		case num == setWatchWaitMS && typ == protowire.VarintType:
			s.WatchWait = ms(v)
		case num == setPollMS && typ == protowire.VarintType:
			s.PollInterval = ms(v)
		}
		return nil
	})
}

func appendService(b []byte, s *abi.Service) []byte {
	b = appendString(b, svcName, s.Name)
	b = appendString(b, svcVersion, s.Version)
	b = appendMap(b, svcMetadata, s.Metadata)
	for i := range s.Endpoints {
		e := &s.Endpoints[i]
		var eb []byte
		eb = appendString(eb, epName, e.Name)
		eb = appendString(eb, epRequest, e.Request)
		eb = appendString(eb, epResponse, e.Response)
		eb = appendMap(eb, epMetadata, e.Metadata)
		b = appendMessage(b, svcEndpoints, eb)
	}
	for i := range s.Nodes {
		n := &s.Nodes[i]
		var nb []byte
		nb = appendString(nb, regNodeID, n.ID)
		nb = appendString(nb, regNodeAddress, n.Address)
		nb = appendMap(nb, regNodeMetadata, n.Metadata)
		b = appendMessage(b, svcNodes, nb)
	}
	return b
}

func unmarshalService(b []byte, s *abi.Service) error {
	return eachRegistryField(b, func(num protowire.Number, typ protowire.Type, _ uint64, raw []byte) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case svcName:
			s.Name = string(raw)
		case svcVersion:
			s.Version = string(raw)
		case svcMetadata:
			return unmarshalEntry(raw, &s.Metadata)
		case svcEndpoints:
			var e abi.Endpoint
			err := eachRegistryField(raw, func(num protowire.Number, typ protowire.Type, _ uint64, raw []byte) error {
				if typ != protowire.BytesType {
					return nil
				}
				switch num {
				case epName:
					e.Name = string(raw)
				case epRequest:
					e.Request = string(raw)
				case epResponse:
					e.Response = string(raw)
				case epMetadata:
					return unmarshalEntry(raw, &e.Metadata)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("endpoint: %w", err)
			}
			s.Endpoints = append(s.Endpoints, e)
		case svcNodes:
			var n abi.Node
			err := eachRegistryField(raw, func(num protowire.Number, typ protowire.Type, _ uint64, raw []byte) error {
				if typ != protowire.BytesType {
					return nil
				}
				switch num {
				case regNodeID:
					n.ID = string(raw)
				case regNodeAddress:
					n.Address = string(raw)
				case regNodeMetadata:
					return unmarshalEntry(raw, &n.Metadata)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("node: %w", err)
			}
			s.Nodes = append(s.Nodes, n)
		}
		return nil
	})
}

// appendMap appends a map<string, string> field, its entries sorted by key so that the
// encoding is deterministic.
func appendMap(b []byte, num protowire.Number, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		var e []byte
		e = protowire.AppendTag(e, 1, protowire.BytesType)
		e = protowire.AppendString(e, k)
		e = protowire.AppendTag(e, 2, protowire.BytesType)
		e = protowire.AppendString(e, m[k])
		b = appendMessage(b, num, e)
	}
	return b
}

func unmarshalEntry(b []byte, m *map[string]string) error {
	var k, v string
	err := eachRegistryField(b, func(num protowire.Number, typ protowire.Type, _ uint64, raw []byte) error {
		if typ == protowire.BytesType {
			switch num {
			case 1:
				k = string(raw)
			case 2:
				v = string(raw)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("map entry: %w", err)
	}
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[k] = v
	return nil
}

func appendInt(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendMessage(b []byte, num protowire.Number, m []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

// errMalformed is wrapped by every decoding error.
var errMalformed = errors.New("malformed registry record")

// eachRegistryField calls fn for every field of the message b: a varint's value in v, a
// length-delimited field's bytes in raw. Fixed-width and group fields are skipped.
func eachRegistryField(b []byte, fn func(num protowire.Number, typ protowire.Type, v uint64, raw []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", errMalformed, envelope.WireError(n))
		}
		b = b[n:]
		var v uint64
		var raw []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			raw, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("%w: field %d: %v", errMalformed, num, envelope.WireError(n))
		}
		b = b[n:]
		if err := fn(num, typ, v, raw); err != nil {
			return err
		}
	}
	return nil
}
