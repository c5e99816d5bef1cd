package walk

// maxModelLen bounds the model name Model returns.
const maxModelLen = 256

// Model returns the top-level "model" string of a JSON object body, or "" if there is
// none, it is longer than 256 bytes, or the body is not an object. It reads members
// only until it finds "model" and does not validate the rest of the body.
func Model(body []byte) string {
	b := body
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return ""
	}
	i = skipWS(b, i+1)
	for i < len(b) && b[i] == '"' {
		end, esc, err := scanString(b, i+1)
		if err != nil {
			return ""
		}
		key := b[i+1 : end]
		if i = skipWS(b, end+1); i >= len(b) || b[i] != ':' {
			return ""
		}
		i = skipWS(b, i+1)
		if esc {
			key = unescape(nil, key)
		}
		if string(key) == "model" {
			if i >= len(b) || b[i] != '"' {
				return ""
			}
			end, esc, err := scanString(b, i+1)
			if err != nil || end-i-1 > 6*maxModelLen {
				return ""
			}
			v := b[i+1 : end]
			if esc {
				v = unescape(nil, v)
			}
			if len(v) > maxModelLen {
				return ""
			}
			return string(v)
		}
		if i = skipValue(b, i); i < 0 {
			return ""
		}
		if i = skipWS(b, i); i >= len(b) || b[i] != ',' {
			return ""
		}
		i = skipWS(b, i+1)
	}
	return ""
}

// skipValue returns the index after the value at b[i] without validating it, or -1.
func skipValue(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			end, _, err := scanString(b, i+1)
			if err != nil {
				return -1
			}
			i = end + 1
		case '{', '[':
			depth++
			i++
		case '}', ']':
			if depth == 0 {
				return i
			}
			depth--
			i++
		case ',':
			if depth == 0 {
				return i
			}
			i++
		default:
			i++
		}
		if depth == 0 && i < len(b) && (b[i] == ',' || b[i] == '}') {
			return i
		}
	}
	return -1
}
