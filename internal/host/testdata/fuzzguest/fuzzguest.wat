;; fuzzguest: calls one host import with the pointers and lengths its request body gives,
;; for the host-function fuzz test (internal/host/fuzz_test.go). The body is 36 bytes,
;; little-endian: the import's index (the order of the imports below), then eight i32
;; arguments; an import takes as many of them as it has parameters. Index 16 or more calls
;; nothing. The module answers status 0 unless the host stops it.
;;
;; Memory: one page that cannot grow. 0: the descriptor; 1024: the request body.
(module
  (import "microhost" "request_endpoint" (func $f0 (param i32 i32) (result i32)))
  (import "microhost" "request_body" (func $f1 (param i32 i32) (result i32)))
  (import "microhost" "request_header" (func $f2 (param i32 i32 i32 i32) (result i32)))
  (import "microhost" "response_body" (func $f3 (param i32 i32)))
  (import "microhost" "response_header" (func $f4 (param i32 i32 i32 i32)))
  (import "microhost" "error" (func $f5 (param i32 i32 i32)))
  (import "microhost" "log" (func $f6 (param i32 i32 i32)))
  (import "microhost" "publish" (func $f7 (param i32 i32 i32 i32) (result i32)))
  (import "microhost" "http_request" (func $f8 (param i32 i32) (result i32)))
  (import "microhost" "http_response_read" (func $f9 (param i32 i32) (result i32)))
  (import "microhost" "call" (func $f10 (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "microhost" "call_result" (func $f11 (param i32 i32) (result i32)))
  (import "microhost" "stream_send" (func $f12 (param i32 i32) (result i32)))
  (import "microhost" "stream_recv" (func $f13 (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $f14 (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $f15 (param i32 i32) (result i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 0) "{\"kind\":\"handler\",\"name\":\"fuzzguest\",\"version\":\"1.0.0\",\"endpoints\":[{\"name\":\"Fuzz.Call\"}]}")
  (func (export "microhost_abi_version_1"))
  (func (export "microhost_describe") (result i64) (i64.const 90))
  (func (export "microhost_handle") (param $endpoint_len i32) (param $body_len i32) (result i32)
    (local $op i32) (local $a i32) (local $b i32) (local $c i32) (local $d i32) (local $e i32) (local $f i32) (local $g i32) (local $h i32)
    (drop (call $f1 (i32.const 1024) (i32.const 36)))
    (local.set $op (i32.load (i32.const 1024)))
    (local.set $a (i32.load (i32.const 1028)))
    (local.set $b (i32.load (i32.const 1032)))
    (local.set $c (i32.load (i32.const 1036)))
    (local.set $d (i32.load (i32.const 1040)))
    (local.set $e (i32.load (i32.const 1044)))
    (local.set $f (i32.load (i32.const 1048)))
    (local.set $g (i32.load (i32.const 1052)))
    (local.set $h (i32.load (i32.const 1056)))
    (block $done
    (block $b15
    (block $b14
    (block $b13
    (block $b12
    (block $b11
    (block $b10
    (block $b9
    (block $b8
    (block $b7
    (block $b6
    (block $b5
    (block $b4
    (block $b3
    (block $b2
    (block $b1
    (block $b0
      (br_table $b0 $b1 $b2 $b3 $b4 $b5 $b6 $b7 $b8 $b9 $b10 $b11 $b12 $b13 $b14 $b15 $done (local.get $op)))
      ;; 0: request_endpoint
      (drop (call $f0 (local.get $a) (local.get $b)))
      (br $done))
      ;; 1: request_body
      (drop (call $f1 (local.get $a) (local.get $b)))
      (br $done))
      ;; 2: request_header
      (drop (call $f2 (local.get $a) (local.get $b) (local.get $c) (local.get $d)))
      (br $done))
      ;; 3: response_body
      (call $f3 (local.get $a) (local.get $b))
      (br $done))
      ;; 4: response_header
      (call $f4 (local.get $a) (local.get $b) (local.get $c) (local.get $d))
      (br $done))
      ;; 5: error
      (call $f5 (local.get $a) (local.get $b) (local.get $c))
      (br $done))
      ;; 6: log
      (call $f6 (local.get $a) (local.get $b) (local.get $c))
      (br $done))
      ;; 7: publish
      (drop (call $f7 (local.get $a) (local.get $b) (local.get $c) (local.get $d)))
      (br $done))
      ;; 8: http_request
      (drop (call $f8 (local.get $a) (local.get $b)))
      (br $done))
      ;; 9: http_response_read
      (drop (call $f9 (local.get $a) (local.get $b)))
      (br $done))
      ;; 10: call
      (drop (call $f10 (local.get $a) (local.get $b) (local.get $c) (local.get $d) (local.get $e) (local.get $f) (local.get $g) (local.get $h)))
      (br $done))
      ;; 11: call_result
      (drop (call $f11 (local.get $a) (local.get $b)))
      (br $done))
      ;; 12: stream_send
      (drop (call $f12 (local.get $a) (local.get $b)))
      (br $done))
      ;; 13: stream_recv
      (drop (call $f13 (local.get $a) (local.get $b)))
      (br $done))
      ;; 14: fd_write
      (drop (call $f14 (local.get $a) (local.get $b) (local.get $c) (local.get $d)))
      (br $done))
      ;; 15: random_get
      (drop (call $f15 (local.get $a) (local.get $b)))
      (br $done)
    )
    (i32.const 0)))
