;; broken-broker is a deliberately broken broker module, in WebAssembly text with no SDK: it
;; declares the broker kind and its three operations, but answers every call with success and
;; an empty reply. Its encode gives an empty delivery, its parse accepts anything and gives an
;; empty delivery, its route gives no targets. The broker conformance suite must fail it,
;; naming each broken check.
(module
  (memory (export "memory") 1)

  ;; The descriptor at 0 (124 bytes).
  (data (i32.const 0) "{\"kind\":\"broker\",\"name\":\"broken-broker\",\"version\":\"1.0.0\",\"endpoints\":[{\"name\":\"encode\"},{\"name\":\"parse\"},{\"name\":\"route\"}]}")

  (func (export "microhost_abi_version_1"))

  (func (export "microhost_describe") (result i64)
    (i64.const 124))

  (func (export "microhost_handle") (param $endpoint_len i32) (param $body_len i32) (result i32)
    (i32.const 0))
)
