(module
  ;; last-selector: a selector written from abi/selector.md alone. Of the nodes that pass the
  ;; filters (version, labels, excluded ids) it picks the LAST one, whatever the strategy, so
  ;; that tests can tell its choices from the stock selector's.
  (import "microhost" "request_body" (func $request_body (param i32 i32) (result i32)))
  (import "microhost" "response_body" (func $response_body (param i32 i32)))
  (import "microhost" "error" (func $error (param i32 i32 i32)))

  (memory (export "memory") 2)

  ;; Memory: 0 descriptor, 256 messages, 512 reply, 1024 label table, 16384 exclude table
  ;; (8 bytes per entry: ptr, len), 65536 the request body.
  (data (i32.const 0) "{\"kind\":\"selector\",\"name\":\"last-selector\",\"version\":\"1.0.0\",\"endpoints\":[{\"name\":\"select\"}]}")
  (data (i32.const 256) "malformed select input")      ;; 22 bytes at 256
  (data (i32.const 288) "no nodes")                    ;; 8 bytes at 288
  (data (i32.const 304) "none available")              ;; 14 bytes at 304
  (data (i32.const 320) "too many labels or excludes") ;; 27 bytes at 320

  (global $pos (mut i32) (i32.const 0))   ;; where the next field starts
  (global $bad (mut i32) (i32.const 0))   ;; 1 once the input is malformed
  (global $num (mut i32) (i32.const 0))   ;; the field's number
  (global $wt (mut i32) (i32.const 0))    ;; the field's wire type
  (global $vptr (mut i32) (i32.const 0))  ;; a length-delimited field's bytes
  (global $vlen (mut i32) (i32.const 0))
  (global $kptr (mut i32) (i32.const 0))  ;; a map entry's key
  (global $klen (mut i32) (i32.const 0))
  (global $eptr (mut i32) (i32.const 0))  ;; a map entry's value
  (global $elen (mut i32) (i32.const 0))
  (global $verptr (mut i32) (i32.const 0)) ;; the version filter
  (global $verlen (mut i32) (i32.const 0))
  (global $nlabels (mut i32) (i32.const 0))
  (global $nexclude (mut i32) (i32.const 0))

  (func (export "microhost_abi_version_1"))

  (func (export "microhost_describe") (result i64)
    (i64.const 92))

  ;; varint reads a base-128 varint at p (before end) into the result and sets $pos after
  ;; it; a truncated or over-long varint sets $bad.
  (func $varint (param $p i32) (param $end i32) (result i64)
    (local $x i64) (local $shift i64) (local $b i32)
    (block $done
      (loop $next
        (if (i32.ge_u (local.get $p) (local.get $end))
          (then (global.set $bad (i32.const 1)) (return (i64.const 0))))
        (if (i64.ge_u (local.get $shift) (i64.const 70))
          (then (global.set $bad (i32.const 1)) (return (i64.const 0))))
        (local.set $b (i32.load8_u (local.get $p)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (local.set $x (i64.or (local.get $x)
          (i64.shl (i64.extend_i32_u (i32.and (local.get $b) (i32.const 0x7f))) (local.get $shift))))
        (local.set $shift (i64.add (local.get $shift) (i64.const 7)))
        (br_if $next (i32.and (local.get $b) (i32.const 0x80)))))
    (global.set $pos (local.get $p))
    (local.get $x))

  ;; field reads the field at p (before end): $num, $wt, $vptr/$vlen for wire type 2, and
  ;; $pos after it. It returns 0 and sets $bad when the field is malformed.
  (func $field (param $p i32) (param $end i32) (result i32)
    (local $tag i64) (local $len i64)
    (local.set $tag (call $varint (local.get $p) (local.get $end)))
    (if (global.get $bad) (then (return (i32.const 0))))
    (global.set $wt (i32.wrap_i64 (i64.and (local.get $tag) (i64.const 7))))
    (if (i64.gt_u (i64.shr_u (local.get $tag) (i64.const 3)) (i64.const 0x1fffffff))
      (then (global.set $bad (i32.const 1)) (return (i32.const 0))))
    (global.set $num (i32.wrap_i64 (i64.shr_u (local.get $tag) (i64.const 3))))
    (if (i32.eqz (global.get $num)) (then (global.set $bad (i32.const 1)) (return (i32.const 0))))
    (block $ok
      (if (i32.eqz (global.get $wt))
        (then (drop (call $varint (global.get $pos) (local.get $end))) (br $ok)))
      (if (i32.eq (global.get $wt) (i32.const 2))
        (then
          (local.set $len (call $varint (global.get $pos) (local.get $end)))
          (if (global.get $bad) (then (return (i32.const 0))))
          (if (i64.gt_u (local.get $len) (i64.extend_i32_u (i32.sub (local.get $end) (global.get $pos))))
            (then (global.set $bad (i32.const 1)) (return (i32.const 0))))
          (global.set $vptr (global.get $pos))
          (global.set $vlen (i32.wrap_i64 (local.get $len)))
          (global.set $pos (i32.add (global.get $pos) (global.get $vlen)))
          (br $ok)))
      (if (i32.eq (global.get $wt) (i32.const 1))
        (then
          (if (i32.gt_u (i32.add (global.get $pos) (i32.const 8)) (local.get $end))
            (then (global.set $bad (i32.const 1)) (return (i32.const 0))))
          (global.set $pos (i32.add (global.get $pos) (i32.const 8)))
          (br $ok)))
      (if (i32.eq (global.get $wt) (i32.const 5))
        (then
          (if (i32.gt_u (i32.add (global.get $pos) (i32.const 4)) (local.get $end))
            (then (global.set $bad (i32.const 1)) (return (i32.const 0))))
          (global.set $pos (i32.add (global.get $pos) (i32.const 4)))
          (br $ok)))
      (global.set $bad (i32.const 1))
      (return (i32.const 0)))
    (i32.eqz (global.get $bad)))

  ;; entry reads the map entry at p (len bytes) into $kptr/$klen and $eptr/$elen.
  (func $entry (param $p i32) (param $len i32) (result i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $p) (local.get $len)))
    (global.set $klen (i32.const 0))
    (global.set $elen (i32.const 0))
    (block $out
      (loop $next
        (br_if $out (i32.ge_u (local.get $p) (local.get $end)))
        (if (i32.eqz (call $field (local.get $p) (local.get $end))) (then (return (i32.const 0))))
        (local.set $p (global.get $pos))
        (if (i32.le_u (global.get $num) (i32.const 2))
          (then
            (if (i32.ne (global.get $wt) (i32.const 2))
              (then (global.set $bad (i32.const 1)) (return (i32.const 0))))
            (if (i32.eq (global.get $num) (i32.const 1))
              (then (global.set $kptr (global.get $vptr)) (global.set $klen (global.get $vlen)))
              (else (global.set $eptr (global.get $vptr)) (global.set $elen (global.get $vlen))))))
        (br $next)))
    (i32.const 1))

  ;; eq compares two byte strings.
  (func $eq (param $a i32) (param $alen i32) (param $b i32) (param $blen i32) (result i32)
    (local $i i32)
    (if (i32.ne (local.get $alen) (local.get $blen)) (then (return (i32.const 0))))
    (block $out
      (loop $next
        (br_if $out (i32.ge_u (local.get $i) (local.get $alen)))
        (if (i32.ne (i32.load8_u (i32.add (local.get $a) (local.get $i)))
                    (i32.load8_u (i32.add (local.get $b) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 1))

  ;; lookup finds key (kp, kl) in the metadata of the node at p (len bytes): 1 and its value
  ;; in $eptr/$elen when present (the last entry of that key counts), else 0.
  (func $lookup (param $p i32) (param $len i32) (param $kp i32) (param $kl i32) (result i32)
    (local $end i32) (local $found i32) (local $vp i32) (local $vl i32)
    (local.set $end (i32.add (local.get $p) (local.get $len)))
    (block $out
      (loop $next
        (br_if $out (i32.ge_u (local.get $p) (local.get $end)))
        (drop (call $field (local.get $p) (local.get $end)))
        (local.set $p (global.get $pos))
        (if (i32.and (i32.eq (global.get $num) (i32.const 4)) (i32.eq (global.get $wt) (i32.const 2)))
          (then
            (drop (call $entry (global.get $vptr) (global.get $vlen)))
            (if (call $eq (global.get $kptr) (global.get $klen) (local.get $kp) (local.get $kl))
              (then
                (local.set $found (i32.const 1))
                (local.set $vp (global.get $eptr))
                (local.set $vl (global.get $elen))))))
        (br $next)))
    (global.set $eptr (local.get $vp))
    (global.set $elen (local.get $vl))
    (local.get $found))

  ;; passes reports whether the node at p (len bytes) passes the filters; a malformed node
  ;; sets $bad.
  (func $passes (param $p i32) (param $len i32) (result i32)
    (local $end i32) (local $q i32) (local $idp i32) (local $idl i32) (local $vp i32) (local $vl i32)
    (local $i i32) (local $j i32) (local $lp i32) (local $lk i32) (local $ll i32) (local $superseded i32)
    (local $kp i32) (local $kl i32) (local $wp i32) (local $wl i32)
    (local.set $end (i32.add (local.get $p) (local.get $len)))
    (local.set $q (local.get $p))
    ;; Read the id and version, and check every field.
    (block $out
      (loop $next
        (br_if $out (i32.ge_u (local.get $q) (local.get $end)))
        (if (i32.eqz (call $field (local.get $q) (local.get $end))) (then (return (i32.const 0))))
        (local.set $q (global.get $pos))
        (if (i32.le_u (global.get $num) (i32.const 4))
          (then
            (if (i32.ne (global.get $wt) (i32.const 2))
              (then (global.set $bad (i32.const 1)) (return (i32.const 0))))
            (if (i32.eq (global.get $num) (i32.const 1))
              (then (local.set $idp (global.get $vptr)) (local.set $idl (global.get $vlen))))
            (if (i32.eq (global.get $num) (i32.const 3))
              (then (local.set $vp (global.get $vptr)) (local.set $vl (global.get $vlen))))
            (if (i32.eq (global.get $num) (i32.const 4))
              (then
                (if (i32.eqz (call $entry (global.get $vptr) (global.get $vlen)))
                  (then (return (i32.const 0))))))))
        (br $next)))
    ;; The version filter.
    (if (i32.gt_u (global.get $verlen) (i32.const 0))
      (then
        (if (i32.eqz (call $eq (local.get $vp) (local.get $vl) (global.get $verptr) (global.get $verlen)))
          (then (return (i32.const 0))))))
    ;; Excluded ids.
    (local.set $i (i32.const 0))
    (block $out
      (loop $next
        (br_if $out (i32.ge_u (local.get $i) (global.get $nexclude)))
        (local.set $lp (i32.add (i32.const 16384) (i32.shl (local.get $i) (i32.const 3))))
        (if (call $eq (local.get $idp) (local.get $idl) (i32.load (local.get $lp)) (i32.load offset=4 (local.get $lp)))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    ;; Labels: every key's last value must be the node's value for that key.
    (local.set $i (i32.const 0))
    (block $out
      (loop $next
        (br_if $out (i32.ge_u (local.get $i) (global.get $nlabels)))
        (local.set $lp (i32.add (i32.const 1024) (i32.shl (local.get $i) (i32.const 3))))
        (drop (call $entry (i32.load (local.get $lp)) (i32.load offset=4 (local.get $lp))))
        (local.set $kp (global.get $kptr)) (local.set $kl (global.get $klen))
        (local.set $wp (global.get $eptr)) (local.set $wl (global.get $elen))
        ;; A later entry with the same key supersedes this one.
        (local.set $superseded (i32.const 0))
        (local.set $j (i32.add (local.get $i) (i32.const 1)))
        (block $jout
          (loop $jnext
            (br_if $jout (i32.ge_u (local.get $j) (global.get $nlabels)))
            (local.set $lk (i32.add (i32.const 1024) (i32.shl (local.get $j) (i32.const 3))))
            (drop (call $entry (i32.load (local.get $lk)) (i32.load offset=4 (local.get $lk))))
            (if (call $eq (global.get $kptr) (global.get $klen) (local.get $kp) (local.get $kl))
              (then (local.set $superseded (i32.const 1))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $jnext)))
        (if (i32.eqz (local.get $superseded))
          (then
            (if (i32.eqz (call $lookup (local.get $p) (local.get $len) (local.get $kp) (local.get $kl)))
              (then (return (i32.const 0))))
            (if (i32.eqz (call $eq (global.get $eptr) (global.get $elen) (local.get $wp) (local.get $wl)))
              (then (return (i32.const 0))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 1))

  (func $fail (param $code i32) (param $msg i32) (param $len i32) (result i32)
    (call $error (local.get $code) (local.get $msg) (local.get $len))
    (i32.const 1))

  (func (export "microhost_handle") (param $endpoint_len i32) (param $body_len i32) (result i32)
    (local $need i32) (local $p i32) (local $end i32) (local $total i32) (local $last i32)
    (local $slot i32) (local $x i32) (local $o i32) (local $fp i32) (local $fl i32)
    ;; Make room for the body at 65536.
    (local.set $need (i32.add (i32.const 2)
      (i32.shr_u (i32.add (local.get $body_len) (i32.const 65535)) (i32.const 16))))
    (if (i32.gt_u (local.get $need) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $need) (memory.size))) (i32.const -1))
          (then (unreachable)))))
    (drop (call $request_body (i32.const 65536) (local.get $body_len)))
    (global.set $bad (i32.const 0))
    (global.set $verlen (i32.const 0))
    (global.set $nlabels (i32.const 0))
    (global.set $nexclude (i32.const 0))
    (local.set $end (i32.add (i32.const 65536) (local.get $body_len)))
    ;; Pass 1: the filters, wherever they stand.
    (local.set $p (i32.const 65536))
    (block $out
      (loop $next
        (br_if $out (i32.ge_u (local.get $p) (local.get $end)))
        (if (i32.eqz (call $field (local.get $p) (local.get $end)))
          (then (return (call $fail (i32.const 400) (i32.const 256) (i32.const 22)))))
        (local.set $p (global.get $pos))
        (if (i32.le_u (global.get $num) (i32.const 7))
          (then
            ;; Fields 1-3 are varints, 4-7 length-delimited.
            (if (i32.ne (global.get $wt) (select (i32.const 0) (i32.const 2) (i32.le_u (global.get $num) (i32.const 3))))
              (then (return (call $fail (i32.const 400) (i32.const 256) (i32.const 22)))))
            (if (i32.eq (global.get $num) (i32.const 4))
              (then (global.set $verptr (global.get $vptr)) (global.set $verlen (global.get $vlen))))
            (if (i32.or (i32.eq (global.get $num) (i32.const 5)) (i32.eq (global.get $num) (i32.const 6)))
              (then
                ;; Keep the field's bytes: reading an entry moves the globals.
                (local.set $fp (global.get $vptr))
                (local.set $fl (global.get $vlen))
                (if (i32.eq (global.get $num) (i32.const 5))
                  (then
                    (if (i32.eqz (call $entry (local.get $fp) (local.get $fl)))
                      (then (return (call $fail (i32.const 400) (i32.const 256) (i32.const 22)))))
                    (local.set $x (global.get $nlabels))
                    (local.set $slot (i32.add (i32.const 1024) (i32.shl (local.get $x) (i32.const 3))))
                    (global.set $nlabels (i32.add (local.get $x) (i32.const 1))))
                  (else
                    (local.set $x (global.get $nexclude))
                    (local.set $slot (i32.add (i32.const 16384) (i32.shl (local.get $x) (i32.const 3))))
                    (global.set $nexclude (i32.add (local.get $x) (i32.const 1)))))
                (if (i32.ge_u (local.get $x) (i32.const 1900))
                  (then (return (call $fail (i32.const 400) (i32.const 320) (i32.const 27)))))
                (i32.store (local.get $slot) (local.get $fp))
                (i32.store offset=4 (local.get $slot) (local.get $fl))))))
        (br $next)))
    ;; Pass 2: the nodes, in order; remember the last that passes.
    (local.set $last (i32.const -1))
    (local.set $p (i32.const 65536))
    (block $out
      (loop $next
        (br_if $out (i32.ge_u (local.get $p) (local.get $end)))
        (drop (call $field (local.get $p) (local.get $end)))
        (local.set $p (global.get $pos))
        (if (i32.eq (global.get $num) (i32.const 7))
          (then
            (if (call $passes (global.get $vptr) (global.get $vlen))
              (then (local.set $last (local.get $total))))
            (if (global.get $bad)
              (then (return (call $fail (i32.const 400) (i32.const 256) (i32.const 22)))))
            (local.set $total (i32.add (local.get $total) (i32.const 1)))))
        (br $next)))
    (if (i32.eqz (local.get $total))
      (then (return (call $fail (i32.const 404) (i32.const 288) (i32.const 8)))))
    (if (i32.lt_s (local.get $last) (i32.const 0))
      (then (return (call $fail (i32.const 503) (i32.const 304) (i32.const 14)))))
    ;; The reply: SelectOutput { index = 1 }, tag 0x08 then the index as a varint.
    (i32.store8 (i32.const 512) (i32.const 0x08))
    (local.set $o (i32.const 513))
    (local.set $x (local.get $last))
    (loop $more
      (if (i32.ge_u (local.get $x) (i32.const 0x80))
        (then
          (i32.store8 (local.get $o) (i32.or (i32.and (local.get $x) (i32.const 0x7f)) (i32.const 0x80)))
          (local.set $o (i32.add (local.get $o) (i32.const 1)))
          (local.set $x (i32.shr_u (local.get $x) (i32.const 7)))
          (br $more))))
    (i32.store8 (local.get $o) (local.get $x))
    (call $response_body (i32.const 512) (i32.sub (i32.add (local.get $o) (i32.const 1)) (i32.const 512)))
    (i32.const 0))
)
