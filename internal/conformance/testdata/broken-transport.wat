;; broken-transport: a transport module that serves every operation of the kind but breaks
;; its contract, for the conformance suite to refuse: "frame", "dechunk" and "response" claim
;; to consume 2147483647 bytes, more than any input gives them, and "head" and "request" write
;; "garbage" as a head. Each answer is a fixed record:
;;
;;     frame, dechunk, response: 08 ff ff ff ff 07   (field 1, varint 2147483647)
;;     head, request:            0a 07 "garbage"     (field 1, 7 bytes)
(module
  (import "microhost" "request_endpoint" (func $request_endpoint (param i32 i32) (result i32)))
  (import "microhost" "response_body" (func $response_body (param i32 i32)))

  (memory (export "memory") 1)

  (data (i32.const 0) "{\"kind\":\"transport\",\"name\":\"broken-transport\",\"version\":\"1.0.0\",\"endpoints\":[{\"name\":\"frame\"},{\"name\":\"dechunk\"},{\"name\":\"head\"},{\"name\":\"request\"},{\"name\":\"response\"}]}")
  (data (i32.const 512) "\08\ff\ff\ff\ff\07")
  (data (i32.const 528) "\0a\07garbage")

  (func (export "microhost_abi_version_1"))

  ;; The descriptor: ptr 0, 169 bytes.
  (func (export "microhost_describe") (result i64)
    (i64.const 169))

  (func (export "microhost_handle") (param $endpoint_len i32) (param $body_len i32) (result i32)
    (drop (call $request_endpoint (i32.const 1024) (i32.const 256)))
    ;; "head" starts with h, "request" has q third; the rest get the over-long count.
    (if (i32.or (i32.eq (i32.load8_u (i32.const 1024)) (i32.const 0x68))
                (i32.eq (i32.load8_u (i32.const 1026)) (i32.const 0x71)))
      (then (call $response_body (i32.const 528) (i32.const 9)))
      (else (call $response_body (i32.const 512) (i32.const 6))))
    (i32.const 0))
)
