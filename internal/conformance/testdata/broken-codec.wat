;; broken-codec: a deliberately broken codec for the conformance suite's own test. Its
;; encode answers with the request envelope itself as the wire bytes (a valid, if odd,
;; format), but its decode answers with an empty message: it drops the id, the endpoint and
;; the body, so no round trip keeps them.
;;
;; Memory layout: 0 the descriptor; 1024 the endpoint, then the request body.
(module
  (import "microhost" "request_endpoint" (func $request_endpoint (param i32 i32) (result i32)))
  (import "microhost" "request_body" (func $request_body (param i32 i32) (result i32)))
  (import "microhost" "response_body" (func $response_body (param i32 i32)))

  (memory (export "memory") 1)

  (data (i32.const 0) "{\"kind\":\"codec\",\"name\":\"broken-codec\",\"version\":\"1.0.0\",\"endpoints\":[{\"name\":\"encode\",\"metadata\":{\"content_types\":\"application/x-broken\"}},{\"name\":\"decode\",\"metadata\":{\"content_types\":\"application/x-broken\"}}]}")

  (func (export "microhost_abi_version_1"))

  ;; The descriptor: ptr 0, 210 bytes.
  (func (export "microhost_describe") (result i64)
    (i64.const 210))

  (func (export "microhost_handle") (param $endpoint_len i32) (param $body_len i32) (result i32)
    (local $pages i32)
    (local $body i32)
    ;; Room for the endpoint and the body after 1024.
    (local.set $pages
      (i32.wrap_i64 (i64.shr_u
        (i64.add (i64.add (i64.const 66559) (i64.extend_i32_u (local.get $endpoint_len)))
                 (i64.extend_i32_u (local.get $body_len)))
        (i64.const 16))))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
          (then (unreachable)))))
    (drop (call $request_endpoint (i32.const 1024) (local.get $endpoint_len)))
    (local.set $body (i32.add (i32.const 1024) (local.get $endpoint_len)))
    (drop (call $request_body (local.get $body) (local.get $body_len)))
    ;; "encode" starts with 'e' (0x65): echo the envelope; "decode": an empty message.
    (if (i32.eq (i32.load8_u (i32.const 1024)) (i32.const 0x65))
      (then (call $response_body (local.get $body) (local.get $body_len)))
      (else (call $response_body (i32.const 0) (i32.const 0))))
    (i32.const 0))
)
