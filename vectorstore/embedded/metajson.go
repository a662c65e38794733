package embedded

import (
	"bytes"
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

// parseMetaJSON decodes metadata JSON into m as json.Unmarshal does. It
// reads the form appendMetaJSON writes itself (json.Unmarshal's reflection
// was most of the time a reader spends replaying a log) and leaves any
// other form to encoding/json.
func parseMetaJSON(js []byte, m *vectorstore.Metadata) error {
	if parsePlainMeta(js, m) {
		return nil
	}
	*m = vectorstore.Metadata{}
	return json.Unmarshal(js, m)
}

// parsePlainMeta parses js if it is exactly what appendMetaJSON writes
// for plain strings, reporting whether it was.
func parsePlainMeta(js []byte, m *vectorstore.Metadata) bool {
	p := js
	take := func(prefix string) bool {
		if len(p) < len(prefix) || string(p[:len(prefix)]) != prefix {
			return false
		}
		p = p[len(prefix):]
		return true
	}
	str := func() (string, bool) {
		end := bytes.IndexByte(p, '"')
		if end < 0 || !plainJSON(string(p[:end])) {
			return "", false
		}
		s := string(p[:end])
		p = p[end:]
		return s, true
	}
	num := func() (int64, bool) {
		end := 0
		for end < len(p) && (p[end] == '-' || p[end] >= '0' && p[end] <= '9') {
			end++
		}
		// Only the form appendMetaJSON writes: "-0" and leading zeros,
		// which it never writes, go to encoding/json.
		text := p[:end]
		p = p[end:]
		v, err := strconv.ParseInt(string(text), 10, 64)
		var canonical [20]byte
		return v, err == nil && string(strconv.AppendInt(canonical[:0], v, 10)) == string(text)
	}
	var out vectorstore.Metadata
	var ok bool
	var v int64
	if !take(`{"path":"`) {
		return false
	}
	if out.Path, ok = str(); !ok || !take(`","size":`) {
		return false
	}
	if out.Size, ok = num(); !ok || !take(`,"width":`) {
		return false
	}
	if v, ok = num(); !ok || v != int64(int(v)) || !take(`,"height":`) {
		return false
	}
	out.Width = int(v)
	if v, ok = num(); !ok || v != int64(int(v)) || !take(`,"mod_time":"`) {
		return false
	}
	out.Height = int(v)
	end := bytes.IndexByte(p, '"')
	if end < 0 {
		return false
	}
	if err := out.ModTime.UnmarshalText(p[:end]); err != nil {
		return false
	}
	p = p[end:]
	if take(`","class":"`) {
		if out.Class, ok = str(); !ok || out.Class == "" || !take(`"`) {
			return false
		}
	} else if !take(`"`) {
		return false
	}
	if !take(`}`) || len(p) != 0 {
		return false
	}
	*m = out
	return true
}
