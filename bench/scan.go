package bench

import (
	"slices"

	"github.com/cloakroom/cloakroom/detect"
	"github.com/cloakroom/cloakroom/proxy/walk"
	"github.com/cloakroom/cloakroom/tokenize"
)

// Placeholder replaces each finding in the body ScanJSON returns: a constant
// token-shaped string, so the splice costs what the proxy's does without a vault.
const Placeholder = "cloak_secret_aaaaaaaaaaaaaaaaaaaa"

// ScanFunc receives one string ScanJSON scanned: where it sits, its decoded bytes and
// the findings in them (offsets into s). s is only valid during the call, and holds
// secrets: never print it.
type ScanFunc func(f walk.Field, s []byte, fs []detect.Finding)

// ScanJSON scans a JSON request body the way the proxy does (proxy/request.go,
// redactBody and findings): walk.RedactResume hands it every string the skip rules
// let through; a value with a member name goes through d.ScanField(key, s), anything else
// through d.Scan(s); the occurrences of known's values (if known holds any) are
// merged in, overlaps resolved in favour of the earlier then longer finding, and
// findings that already are tokens are dropped. Each finding is replaced with
// Placeholder. It returns the redacted body (body itself when nothing was found; a
// new buffer otherwise, body is not modified) and the number of findings, and calls
// fn, if not nil, for every string scanned.
//
// It leaves out what is not detection: the vault, audit and metrics, and the decoding
// of base64 text media (the proxy's redactEncoded), which the corpus never holds.
func ScanJSON(body []byte, d *detect.Detector, known *detect.KnownSet, fn ScanFunc) ([]byte, int, error) {
	return scanJSON(body, false, d, known, fn)
}

// A Scanner scans bodies as ScanJSON does, but as the proxy handles the body it read
// (proxy/request.go, redact): into a buffer it owns, with room for one more byte, and
// the redaction spliced over it when it fits. It copies each body into a buffer it
// reuses, so the output is only valid until the next call. It is not safe for
// concurrent use.
type Scanner struct {
	buf []byte
}

// ScanJSON is ScanJSON on a copy of body in s's buffer.
func (sc *Scanner) ScanJSON(body []byte, d *detect.Detector, known *detect.KnownSet, fn ScanFunc) ([]byte, int, error) {
	sc.buf = append(slices.Grow(sc.buf[:0], len(body)+1), body...)
	return scanJSON(sc.buf, true, d, known, fn)
}

func scanJSON(body []byte, inPlace bool, d *detect.Detector, known *detect.KnownSet, fn ScanFunc) ([]byte, int, error) {
	n := 0
	out, err := walk.RedactResume(body, func(f walk.Field, _, s []byte) ([]walk.Replacement, error) {
		var fs []detect.Finding
		if f.Key != "" {
			fs = d.ScanField(f.Key, s)
		} else {
			fs = d.Scan(s)
		}
		if known != nil && known.Len() > 0 {
			fs = detect.Merge(fs, known.Scan(s))
		}
		fs = slices.DeleteFunc(fs, func(x detect.Finding) bool {
			return x.End <= x.Start || tokenize.Contains(s[x.Start:x.End])
		})
		if fn != nil {
			fn(f, s, fs)
		}
		if len(fs) == 0 {
			return nil, nil
		}
		n += len(fs)
		reps := make([]walk.Replacement, len(fs))
		for i, x := range fs {
			reps[i] = walk.Replacement{Start: x.Start, End: x.End, With: Placeholder}
		}
		return reps, nil
	}, walk.ResumeOptions{InPlace: inPlace})
	return out, n, err
}
