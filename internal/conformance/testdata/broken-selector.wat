(module
  ;; broken-selector: a selector that breaks the contract. It answers every input with index
  ;; 0 (the reply bytes 08 00): it ignores the filters, never reports 404 or 503, and accepts
  ;; garbage. The conformance suite must fail it.
  (import "microhost" "response_body" (func $response_body (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"kind\":\"selector\",\"name\":\"broken-selector\",\"version\":\"0.0.1\",\"endpoints\":[{\"name\":\"select\"}]}")
  (data (i32.const 512) "\08\00")
  (func (export "microhost_abi_version_1"))
  (func (export "microhost_describe") (result i64) (i64.const 94))
  (func (export "microhost_handle") (param i32 i32) (result i32)
    (call $response_body (i32.const 512) (i32.const 2))
    (i32.const 0))
)
