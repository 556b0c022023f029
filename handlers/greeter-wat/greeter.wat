;; greeter: a microhost handler in WebAssembly text, with no SDK: it follows abi/ABI.md
;; alone. Greeter.Hello answers {"name":"John"} with {"greeting":"Hello John"}. Build it with
;; `make` (wat2wasm greeter.wat -o greeter.wasm); see README.md.
;;
;; The request must be one JSON object (or null). Its "name" member, matched as Go's
;; encoding/json matches a struct field (exactly or ASCII case-insensitively, the last one
;; winning, null leaving it unset), must be a string; every other member is checked for
;; JSON syntax and skipped. The name's bytes between its quotes are copied into the reply
;; verbatim: the reply is JSON too, so escapes such as \" and \u00e9 stay valid.
;;
;; Memory layout:
;;
;;     0       the descriptor
;;     512     constant strings
;;     1024    the closers of open containers while skipping a value (10000 bytes)
;;     65519   "unknown endpoint ", just before the endpoint, so the two form one message
;;     65536   the endpoint, then the body, then the reply; memory grows to fit them
(module
  (import "microhost" "request_endpoint" (func $request_endpoint (param i32 i32) (result i32)))
  (import "microhost" "request_body" (func $request_body (param i32 i32) (result i32)))
  (import "microhost" "response_body" (func $response_body (param i32 i32)))
  (import "microhost" "error" (func $error (param i32 i32 i32)))

  (memory (export "memory") 1)

  (data (i32.const 0) "{\"kind\":\"handler\",\"name\":\"greeter\",\"version\":\"1.0.0\",\"endpoints\":[{\"name\":\"Greeter.Hello\",\"request\":\"HelloRequest\",\"response\":\"HelloResponse\"}]}")
  (data (i32.const 512) "Greeter.Hello")
  (data (i32.const 640) "malformed JSON request for Greeter.Hello")
  (data (i32.const 768) "{\"greeting\":\"Hello ")
  (data (i32.const 800) "\"}")
  (data (i32.const 816) "name is required")
  (data (i32.const 840) "out of memory")
  (data (i32.const 864) "null")
  (data (i32.const 868) "true")
  (data (i32.const 872) "false")
  (data (i32.const 65519) "unknown endpoint ")

  ;; The body is at [$body, $end).
  (global $body (mut i32) (i32.const 0))
  (global $end (mut i32) (i32.const 0))
  ;; The name's raw bytes, between its quotes: [$name, $name_end).
  (global $name (mut i32) (i32.const 0))
  (global $name_end (mut i32) (i32.const 0))

  (func (export "microhost_abi_version_1"))

  ;; The descriptor: ptr 0, 144 bytes.
  (func (export "microhost_describe") (result i64)
    (i64.const 144))

  (func (export "microhost_handle") (param $endpoint_len i32) (param $body_len i32) (result i32)
    (local $need i64)
    (local $pages i32)
    (local $status i32)
    (local $reply i32)
    (local $n i32)
    ;; Room for the endpoint, the body and a reply of at most body_len + 21 bytes.
    (local.set $need
      (i64.add (i64.const 65557)
        (i64.add (i64.extend_i32_u (local.get $endpoint_len))
          (i64.shl (i64.extend_i32_u (local.get $body_len)) (i64.const 1)))))
    (if (i64.gt_u (local.get $need) (i64.const 0xffff0000))
      (then (return (call $fail (i32.const 500) (i32.const 840) (i32.const 13)))))
    (local.set $pages
      (i32.wrap_i64 (i64.shr_u (i64.add (local.get $need) (i64.const 65535)) (i64.const 16))))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
          (then (return (call $fail (i32.const 500) (i32.const 840) (i32.const 13)))))))

    (drop (call $request_endpoint (i32.const 65536) (local.get $endpoint_len)))
    (if (i32.or
          (i32.ne (local.get $endpoint_len) (i32.const 13))
          (i32.eqz (call $equal (i32.const 65536) (i32.const 512) (i32.const 13))))
      (then
        (return (call $fail (i32.const 404) (i32.const 65519)
          (i32.add (i32.const 17) (local.get $endpoint_len))))))

    (global.set $body (i32.add (i32.const 65536) (local.get $endpoint_len)))
    (global.set $end (i32.add (global.get $body) (local.get $body_len)))
    (drop (call $request_body (global.get $body) (local.get $body_len)))

    (local.set $status (call $name_field))
    (if (i32.lt_s (local.get $status) (i32.const 0))
      (then (return (call $fail (i32.const 400) (i32.const 640) (i32.const 40)))))
    (if (i32.or (i32.eqz (local.get $status))
                (i32.eq (global.get $name) (global.get $name_end)))
      (then (return (call $fail (i32.const 400) (i32.const 816) (i32.const 16)))))

    ;; {"greeting":"Hello <name>"}, after the body.
    (local.set $reply (global.get $end))
    (local.set $n (i32.sub (global.get $name_end) (global.get $name)))
    (memory.copy (local.get $reply) (i32.const 768) (i32.const 19))
    (memory.copy (i32.add (local.get $reply) (i32.const 19)) (global.get $name) (local.get $n))
    (memory.copy (i32.add (local.get $reply) (i32.add (i32.const 19) (local.get $n)))
      (i32.const 800) (i32.const 2))
    (call $response_body (local.get $reply) (i32.add (local.get $n) (i32.const 21)))
    (i32.const 0))

  ;; $fail sets the call's error and returns the failed status.
  (func $fail (param $code i32) (param $msg i32) (param $len i32) (result i32)
    (call $error (local.get $code) (local.get $msg) (local.get $len))
    (i32.const 1))

  ;; $equal reports whether the n bytes at a and at b are the same.
  (func $equal (param $a i32) (param $b i32) (param $n i32) (result i32)
    (local $k i32)
    (block $done
      (loop $byte
        (br_if $done (i32.ge_u (local.get $k) (local.get $n)))
        (if (i32.ne (i32.load8_u (i32.add (local.get $a) (local.get $k)))
                    (i32.load8_u (i32.add (local.get $b) (local.get $k))))
          (then (return (i32.const 0))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $byte)))
    (i32.const 1))

  ;; $at is the body byte at i, or -1 past its end.
  (func $at (param $i i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $i) (global.get $end))
      (then (i32.load8_u (local.get $i)))
      (else (i32.const -1))))

  ;; $ws skips JSON whitespace from i.
  (func $ws (param $i i32) (result i32)
    (local $c i32)
    (block $done
      (loop $more
        (local.set $c (call $at (local.get $i)))
        (br_if $done (i32.eqz
          (i32.or (i32.or (i32.eq (local.get $c) (i32.const 0x20)) (i32.eq (local.get $c) (i32.const 0x09)))
                  (i32.or (i32.eq (local.get $c) (i32.const 0x0a)) (i32.eq (local.get $c) (i32.const 0x0d))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $more)))
    (local.get $i))

  ;; $word reports whether the n bytes at lit are at i.
  (func $word (param $i i32) (param $lit i32) (param $n i32) (result i32)
    (if (i32.gt_u (i32.add (local.get $i) (local.get $n)) (global.get $end))
      (then (return (i32.const 0))))
    (call $equal (local.get $i) (local.get $lit) (local.get $n)))

  (func $hex (param $c i32) (result i32)
    (i32.or
      (i32.or
        (i32.and (i32.ge_s (local.get $c) (i32.const 0x30)) (i32.le_s (local.get $c) (i32.const 0x39)))
        (i32.and (i32.ge_s (local.get $c) (i32.const 0x61)) (i32.le_s (local.get $c) (i32.const 0x66))))
      (i32.and (i32.ge_s (local.get $c) (i32.const 0x41)) (i32.le_s (local.get $c) (i32.const 0x46)))))

  ;; $string checks the string whose opening quote is at i; it returns the position past its
  ;; closing quote, or 0 when it is malformed.
  (func $string (param $i i32) (result i32)
    (local $c i32)
    (local.set $i (i32.add (local.get $i) (i32.const 1)))
    (loop $char
      (local.set $c (call $at (local.get $i)))
      ;; The end of the body (-1) or a raw control character.
      (if (i32.lt_s (local.get $c) (i32.const 0x20)) (then (return (i32.const 0))))
      (if (i32.eq (local.get $c) (i32.const 0x22))
        (then (return (i32.add (local.get $i) (i32.const 1)))))
      (if (i32.ne (local.get $c) (i32.const 0x5c))
        (then
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $char)))
      (local.set $c (call $at (i32.add (local.get $i) (i32.const 1))))
      (if (i32.eq (local.get $c) (i32.const 0x75))
        (then
          ;; \uXXXX
          (if (i32.eqz (i32.and
                (i32.and (call $hex (call $at (i32.add (local.get $i) (i32.const 2))))
                         (call $hex (call $at (i32.add (local.get $i) (i32.const 3)))))
                (i32.and (call $hex (call $at (i32.add (local.get $i) (i32.const 4))))
                         (call $hex (call $at (i32.add (local.get $i) (i32.const 5)))))))
            (then (return (i32.const 0))))
          (local.set $i (i32.add (local.get $i) (i32.const 6)))
          (br $char)))
      ;; \" \\ \/ \b \f \n \r \t
      (if (i32.or
            (i32.or
              (i32.or (i32.eq (local.get $c) (i32.const 0x22)) (i32.eq (local.get $c) (i32.const 0x5c)))
              (i32.or (i32.eq (local.get $c) (i32.const 0x2f)) (i32.eq (local.get $c) (i32.const 0x62))))
            (i32.or
              (i32.or (i32.eq (local.get $c) (i32.const 0x66)) (i32.eq (local.get $c) (i32.const 0x6e)))
              (i32.or (i32.eq (local.get $c) (i32.const 0x72)) (i32.eq (local.get $c) (i32.const 0x74)))))
        (then
          (local.set $i (i32.add (local.get $i) (i32.const 2)))
          (br $char))))
    (i32.const 0))

  ;; $digits skips one or more digits from i; 0 when there is none.
  (func $digits (param $i i32) (result i32)
    (local $start i32)
    (local $c i32)
    (local.set $start (local.get $i))
    (block $done
      (loop $more
        (local.set $c (call $at (local.get $i)))
        (br_if $done (i32.or (i32.lt_s (local.get $c) (i32.const 0x30)) (i32.gt_s (local.get $c) (i32.const 0x39))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $more)))
    (select (local.get $i) (i32.const 0) (i32.gt_u (local.get $i) (local.get $start))))

  ;; $number checks the number at i: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?; it
  ;; returns the position past it, or 0.
  (func $number (param $i i32) (result i32)
    (local $c i32)
    (if (i32.eq (call $at (local.get $i)) (i32.const 0x2d))
      (then (local.set $i (i32.add (local.get $i) (i32.const 1)))))
    (if (i32.eq (call $at (local.get $i)) (i32.const 0x30))
      (then (local.set $i (i32.add (local.get $i) (i32.const 1))))
      (else
        (local.set $i (call $digits (local.get $i)))
        (if (i32.eqz (local.get $i)) (then (return (i32.const 0))))))
    (if (i32.eq (call $at (local.get $i)) (i32.const 0x2e))
      (then
        (local.set $i (call $digits (i32.add (local.get $i) (i32.const 1))))
        (if (i32.eqz (local.get $i)) (then (return (i32.const 0))))))
    (local.set $c (call $at (local.get $i)))
    (if (i32.or (i32.eq (local.get $c) (i32.const 0x65)) (i32.eq (local.get $c) (i32.const 0x45)))
      (then
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (local.set $c (call $at (local.get $i)))
        (if (i32.or (i32.eq (local.get $c) (i32.const 0x2b)) (i32.eq (local.get $c) (i32.const 0x2d)))
          (then (local.set $i (i32.add (local.get $i) (i32.const 1)))))
        (local.set $i (call $digits (local.get $i)))))
    (local.get $i))

  ;; $value checks the JSON value at i, nested depth levels deep, with an explicit stack of
  ;; the open containers' closers instead of recursion; it returns the position past the
  ;; value, or 0 when it is malformed. Like Go's encoding/json it refuses more than 10000
  ;; levels of nesting.
  (func $value (param $i i32) (param $depth i32) (result i32)
    (local $top i32)
    (local $c i32)
    (local $close i32)
    (local $want_key i32)
    (loop $next
      (if (local.get $want_key)
        (then
          ;; An object member: "key" : value.
          (if (i32.ne (call $at (local.get $i)) (i32.const 0x22)) (then (return (i32.const 0))))
          (local.set $i (call $string (local.get $i)))
          (if (i32.eqz (local.get $i)) (then (return (i32.const 0))))
          (local.set $i (call $ws (local.get $i)))
          (if (i32.ne (call $at (local.get $i)) (i32.const 0x3a)) (then (return (i32.const 0))))
          (local.set $i (call $ws (i32.add (local.get $i) (i32.const 1))))
          (local.set $want_key (i32.const 0))))
      (local.set $c (call $at (local.get $i)))
      (block $scanned
        ;; { or [
        (if (i32.or (i32.eq (local.get $c) (i32.const 0x7b)) (i32.eq (local.get $c) (i32.const 0x5b)))
          (then
            (if (i32.gt_u (i32.add (i32.add (local.get $depth) (local.get $top)) (i32.const 1)) (i32.const 10000))
              (then (return (i32.const 0))))
            (local.set $close
              (select (i32.const 0x7d) (i32.const 0x5d) (i32.eq (local.get $c) (i32.const 0x7b))))
            (local.set $i (call $ws (i32.add (local.get $i) (i32.const 1))))
            (if (i32.eq (call $at (local.get $i)) (local.get $close))
              (then
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $scanned)))
            (i32.store8 (i32.add (i32.const 1024) (local.get $top)) (local.get $close))
            (local.set $top (i32.add (local.get $top) (i32.const 1)))
            (local.set $want_key (i32.eq (local.get $close) (i32.const 0x7d)))
            (br $next)))
        (if (i32.eq (local.get $c) (i32.const 0x22))
          (then
            (local.set $i (call $string (local.get $i)))
            (br $scanned)))
        (if (i32.or (i32.eq (local.get $c) (i32.const 0x2d))
                    (i32.and (i32.ge_s (local.get $c) (i32.const 0x30)) (i32.le_s (local.get $c) (i32.const 0x39))))
          (then
            (local.set $i (call $number (local.get $i)))
            (br $scanned)))
        (if (i32.or (call $word (local.get $i) (i32.const 864) (i32.const 4))
                    (call $word (local.get $i) (i32.const 868) (i32.const 4)))
          (then
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $scanned)))
        (if (call $word (local.get $i) (i32.const 872) (i32.const 5))
          (then
            (local.set $i (i32.add (local.get $i) (i32.const 5)))
            (br $scanned)))
        (return (i32.const 0)))
      (if (i32.eqz (local.get $i)) (then (return (i32.const 0))))
      ;; After a value: close containers, or move on to the next element.
      (loop $after
        (if (i32.eqz (local.get $top)) (then (return (local.get $i))))
        (local.set $i (call $ws (local.get $i)))
        (local.set $c (call $at (local.get $i)))
        (local.set $close (i32.load8_u (i32.add (i32.const 1023) (local.get $top))))
        (if (i32.eq (local.get $c) (local.get $close))
          (then
            (local.set $top (i32.sub (local.get $top) (i32.const 1)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $after)))
        (if (i32.ne (local.get $c) (i32.const 0x2c)) (then (return (i32.const 0))))
        (local.set $i (call $ws (i32.add (local.get $i) (i32.const 1))))
        (local.set $want_key (i32.eq (local.get $close) (i32.const 0x7d))))
      (br $next))
    (i32.const 0))

  ;; $is_name reports whether the key bytes [k, k_end) are "name" in any ASCII case: or-ing
  ;; 0x20 into each byte lowers letters and maps nothing else onto n, a, m or e.
  (func $is_name (param $k i32) (param $k_end i32) (result i32)
    (if (i32.ne (i32.sub (local.get $k_end) (local.get $k)) (i32.const 4))
      (then (return (i32.const 0))))
    (i32.eq (i32.or (i32.load (local.get $k)) (i32.const 0x20202020))
            (i32.const 0x656d616e)))

  ;; $name_field checks the body and finds its "name" member: 1 with $name and $name_end set
  ;; when it is a string, 0 when it is absent or null, -1 when the body is malformed or the
  ;; member is neither a string nor null.
  (func $name_field (result i32)
    (local $i i32)
    (local $k i32)
    (local $match i32)
    (local $v i32)
    (local $found i32)
    (local $c i32)
    (local.set $i (call $ws (global.get $body)))
    (block $document
      (if (call $word (local.get $i) (i32.const 864) (i32.const 4))
        (then
          (local.set $i (i32.add (local.get $i) (i32.const 4)))
          (br $document)))
      (if (i32.ne (call $at (local.get $i)) (i32.const 0x7b)) (then (return (i32.const -1))))
      (local.set $i (call $ws (i32.add (local.get $i) (i32.const 1))))
      (if (i32.eq (call $at (local.get $i)) (i32.const 0x7d))
        (then
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $document)))
      (loop $member
        (if (i32.ne (call $at (local.get $i)) (i32.const 0x22)) (then (return (i32.const -1))))
        (local.set $k (i32.add (local.get $i) (i32.const 1)))
        (local.set $i (call $string (local.get $i)))
        (if (i32.eqz (local.get $i)) (then (return (i32.const -1))))
        (local.set $match (call $is_name (local.get $k) (i32.sub (local.get $i) (i32.const 1))))
        (local.set $i (call $ws (local.get $i)))
        (if (i32.ne (call $at (local.get $i)) (i32.const 0x3a)) (then (return (i32.const -1))))
        (local.set $i (call $ws (i32.add (local.get $i) (i32.const 1))))
        (block $value_done
          (if (local.get $match)
            (then
              (if (i32.eq (call $at (local.get $i)) (i32.const 0x22))
                (then
                  (local.set $v (i32.add (local.get $i) (i32.const 1)))
                  (local.set $i (call $string (local.get $i)))
                  (if (i32.eqz (local.get $i)) (then (return (i32.const -1))))
                  (global.set $name (local.get $v))
                  (global.set $name_end (i32.sub (local.get $i) (i32.const 1)))
                  (local.set $found (i32.const 1))
                  (br $value_done)))
              (if (call $word (local.get $i) (i32.const 864) (i32.const 4))
                (then
                  (local.set $i (i32.add (local.get $i) (i32.const 4)))
                  (br $value_done)))
              (return (i32.const -1))))
          (local.set $i (call $value (local.get $i) (i32.const 1)))
          (if (i32.eqz (local.get $i)) (then (return (i32.const -1)))))
        (local.set $i (call $ws (local.get $i)))
        (local.set $c (call $at (local.get $i)))
        (if (i32.eq (local.get $c) (i32.const 0x7d))
          (then
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $document)))
        (if (i32.ne (local.get $c) (i32.const 0x2c)) (then (return (i32.const -1))))
        (local.set $i (call $ws (i32.add (local.get $i) (i32.const 1))))
        (br $member)))
    (if (i32.ne (call $ws (local.get $i)) (global.get $end)) (then (return (i32.const -1))))
    (local.get $found))
)
