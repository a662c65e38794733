package embedded

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/deeprank/deeprank/vectorstore"
)

// appendMetaJSON appends m as encoding/json marshals it, byte for byte:
// the log and the segments store metadata as that JSON. It writes the
// common case itself (json.Marshal's reflection was a tenth of an
// ingest's time in the store) and leaves the rest to encoding/json.
func appendMetaJSON(buf []byte, m vectorstore.Metadata) []byte {
	if !plainJSON(m.Path) || !plainJSON(m.Class) || m.ModTime.Year() < 0 || m.ModTime.Year() > 9999 {
		js, _ := json.Marshal(m) // fails only on a year json cannot write, which Upsert refuses
		return append(buf, js...)
	}
	buf = append(buf, `{"path":"`...)
	buf = append(buf, m.Path...)
	buf = append(buf, `","size":`...)
	buf = strconv.AppendInt(buf, m.Size, 10)
	buf = append(buf, `,"width":`...)
	buf = strconv.AppendInt(buf, int64(m.Width), 10)
	buf = append(buf, `,"height":`...)
	buf = strconv.AppendInt(buf, int64(m.Height), 10)
	buf = append(buf, `,"mod_time":"`...)
	buf = m.ModTime.AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, '"')
	if m.Class != "" {
		buf = append(buf, `,"class":"`...)
		buf = append(buf, m.Class...)
		buf = append(buf, '"')
	}
	return append(buf, '}')
}

// plainJSON reports whether encoding/json writes s between quotes as it
// is: no control characters, quotes, backslashes, HTML-escaped bytes, or
// bytes outside valid UTF-8 (or the two line separators json escapes).
func plainJSON(s string) bool {
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b < 0x20 || b == '"' || b == '\\' || b == '<' || b == '>' || b == '&' {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || r == '\u2028' || r == '\u2029' {
			return false
		}
		i += n
	}
	return true
}
