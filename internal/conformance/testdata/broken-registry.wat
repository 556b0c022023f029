;; broken-registry: a registry module that declares the registry kind and its five
;; operations but implements none of them: every call succeeds with an empty reply, whatever
;; its input. The registry conformance suite must fail it (nothing registered is found, a
;; watch never gives an index, malformed input is accepted).
(module
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"kind\":\"registry\",\"name\":\"broken-registry\",\"version\":\"0.0.1\",\"endpoints\":[{\"name\":\"register\"},{\"name\":\"deregister\"},{\"name\":\"get\"},{\"name\":\"list\"},{\"name\":\"watch\"}]}")
  (func (export "microhost_abi_version_1"))
  (func (export "microhost_describe") (result i64)
    (i64.const 166))
  (func (export "microhost_handle") (param $endpoint_len i32) (param $body_len i32) (result i32)
    (i32.const 0)))
