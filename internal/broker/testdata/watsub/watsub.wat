;; watsub is a test subscriber of the topic "events" written in WebAssembly text, with no
;; SDK: it accepts messages whose body is a JSON object (starts with "{") and carries a
;; Micro-Topic header, logs each body, and refuses anything else with a 400, which the
;; publisher does not retry. Rebuild: wat2wasm watsub.wat -o watsub.wasm (the tests do).
(module
  (import "microhost" "request_body" (func $request_body (param i32 i32) (result i32)))
  (import "microhost" "request_header" (func $request_header (param i32 i32 i32 i32) (result i32)))
  (import "microhost" "error" (func $error (param i32 i32 i32)))
  (import "microhost" "log" (func $log (param i32 i32 i32)))

  (memory (export "memory") 1)

  ;; The descriptor at 0 (137 bytes); error details and a header name from 200.
  (data (i32.const 0) "{\"kind\":\"subscriber\",\"name\":\"watsub\",\"version\":\"1.0.0\",\"endpoints\":[{\"name\":\"events\",\"metadata\":{\"subscriber\":\"true\",\"topic\":\"events\"}}]}")
  (data (i32.const 200) "not a JSON object")      ;; 17 bytes
  (data (i32.const 220) "Micro-Topic")            ;; 11 bytes
  (data (i32.const 240) "no Micro-Topic header")  ;; 21 bytes
  (data (i32.const 270) "body too large")         ;; 14 bytes

  (func (export "microhost_abi_version_1"))

  (func (export "microhost_describe") (result i64)
    (i64.const 137))

  ;; The topic header goes to 512 (64 bytes of room), the body to 1024.
  (func (export "microhost_handle") (param $endpoint_len i32) (param $body_len i32) (result i32)
    (if (i32.gt_u (local.get $body_len) (i32.const 60000))
      (then
        (call $error (i32.const 413) (i32.const 270) (i32.const 14))
        (return (i32.const 1))))
    (if (i32.lt_s (call $request_header (i32.const 220) (i32.const 11) (i32.const 512) (i32.const 64)) (i32.const 1))
      (then
        (call $error (i32.const 400) (i32.const 240) (i32.const 21))
        (return (i32.const 1))))
    (drop (call $request_body (i32.const 1024) (local.get $body_len)))
    (if (i32.or
          (i32.eqz (local.get $body_len))
          (i32.ne (i32.load8_u (i32.const 1024)) (i32.const 123))) ;; '{'
      (then
        (call $error (i32.const 400) (i32.const 200) (i32.const 17))
        (return (i32.const 1))))
    (call $log (i32.const 0) (i32.const 1024) (local.get $body_len))
    (i32.const 0))
)
