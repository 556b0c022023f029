//go:build wasip1

package guest

import "unsafe"

//go:wasmimport microhost publish
func hostPublish(topic unsafe.Pointer, topicLen uint32, body unsafe.Pointer, bodyLen uint32) int32

func publish(topic string, body []byte) int32 {
	return hostPublish(unsafe.Pointer(unsafe.StringData(topic)), uint32(len(topic)),
		unsafe.Pointer(unsafe.SliceData(body)), uint32(len(body)))
}
