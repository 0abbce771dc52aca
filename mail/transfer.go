package mail

import (
	"bufio"
	"encoding/base64"
	"io"
)

// transferDecoder undoes a Content-Transfer-Encoding leniently: real mail carries
// broken base64 (stray characters, bad padding) and broken quoted-printable, and a
// helpdesk must show what it can rather than nothing.
func transferDecoder(cte string, r io.Reader) io.Reader {
	switch cte {
	case "base64":
		return base64.NewDecoder(base64.RawStdEncoding, &base64Filter{r: r})
	case "quoted-printable":
		return &qpReader{br: bufio.NewReaderSize(r, 8<<10)}
	default:
		return r
	}
}

// base64Filter passes only base64 alphabet bytes (no padding), so line breaks,
// spaces and garbage in the body do not stop the decoder.
type base64Filter struct {
	r       io.Reader
	pending int // alphabet bytes passed so far, modulo 4
}

func (f *base64Filter) Read(p []byte) (int, error) {
	for {
		n, err := f.r.Read(p)
		j := 0
		for _, c := range p[:n] {
			if isBase64Char(c) {
				p[j] = c
				j++
			}
		}
		f.pending = (f.pending + j) % 4
		if err == io.EOF && f.pending == 1 {
			// A lone trailing sextet cannot form a byte; drop it instead of failing.
			j--
			f.pending = 0
		}
		if j > 0 || err != nil {
			if j < 0 {
				j = 0
			}
			return j, err
		}
	}
}

// qpReader decodes quoted-printable line by line; invalid escapes pass through.
type qpReader struct {
	br  *bufio.Reader
	out []byte
	err error
}

func (q *qpReader) Read(p []byte) (int, error) {
	for len(q.out) == 0 {
		if q.err != nil {
			return 0, q.err
		}
		line, err := q.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			err = nil // a very long line: decode in pieces
		} else {
			q.err = err
		}
		q.out = decodeQPLine(q.out[:0], line)
	}
	n := copy(p, q.out)
	q.out = q.out[n:]
	return n, nil
}

func decodeQPLine(dst, line []byte) []byte {
	hardBreak := false
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
		hardBreak = true
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
	}
	// Trailing whitespace is transport padding (RFC 2045 6.7 rule 3).
	end := len(line)
	for end > 0 && (line[end-1] == ' ' || line[end-1] == '\t') {
		end--
	}
	line = line[:end]
	if n := len(line); n > 0 && line[n-1] == '=' {
		line = line[:n-1]
		hardBreak = false // soft line break
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '=' && i+2 < len(line) && isHex(line[i+1]) && isHex(line[i+2]) {
			dst = append(dst, unhex(line[i+1])<<4|unhex(line[i+2]))
			i += 2
			continue
		}
		dst = append(dst, c)
	}
	if hardBreak {
		dst = append(dst, '\r', '\n')
	}
	return dst
}
