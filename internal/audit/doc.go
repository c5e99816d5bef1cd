// Package audit writes and checks the audit trail: JSON lines, one "request" record
// per intercepted request and one "decision" record per policy decision or approval
// event. Records name rules, classes, tokens and JSON paths; they never carry a
// secret value.
//
// # Hash chain
//
// Every line the Writer appends starts with three fields:
//
//	{"seq":7,"chain":"9f1c2a7b3e4d5f60","prev":"<64 hex>","type":"request",...}
//
// seq counts the lines of a chain from 1; chain is a random id naming the chain
// (one per log file history, or per process when writing to stdout); prev is the
// hex SHA-256 of the previous line of the same chain, its exact bytes without the
// newline. The first line of a chain has seq 1 and a prev of 64 zeros. A file opened
// for append continues the chain of its last line (same chain id, next seq), and
// rotation continues it too: the first line of a new file has the next seq and the
// hash of the last line of the file rotated away as its prev. Editing, deleting,
// inserting or reordering lines therefore breaks seq or prev, and Verify names the
// first broken record. A chain cannot prove that nobody cut its newest lines or
// rewrote it whole: compare its head (seq and hash, which verification prints) with
// a copy kept elsewhere, such as the Redis stream.
//
// The Writer also writes records of type "chain" (ChainEvent): "rotated" starts
// each file made by rotation and, when retention deleted old files, names the seq
// and hash of the last deleted line, so verification can tell files removed by
// retention from files removed by hand; "torn" follows a line that a crash or a
// failed write left incomplete, names it by its hash and takes it out of the chain
// (the torn bytes stay in the file, ended with a newline; nothing is truncated).
//
// # Sinks
//
// A file (OpenFile: append-only, 0600, rotated by size into path.1, path.2, ...,
// path.1 being the newest), any io.Writer (NewWriter, e.g. stdout), and, in addition
// to either, a Redis stream (Stream) shared by replicas: each replica's lines carry
// its own chain id, so the stream holds one chain per replica (and per restart of a
// replica writing to stdout), and VerifyStream checks each.
//
// # Prompt capture
//
// Captures keeps request bodies as they went upstream (after redaction, so they
// hold tokens, never secrets) on disk, with retention by age and total size.
package audit
