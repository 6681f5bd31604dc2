package translate

import "bytes"

// refRewriter turns Poe's inline attachment references, `![alt][ref]` or
// `[text][ref]`, into ordinary markdown links `![alt](url)` once a file
// event has told us the URL for ref. While a reference may still be
// incomplete at the end of a chunk, that tail is held back.
type refRewriter struct {
	urls    map[string]string // inline_ref -> URL
	used    map[string]bool
	pending []byte
	out     []byte
	next    func(p []byte) error
}

// maxRefTail bounds how much text may wait for a reference to complete.
const maxRefTail = 512

func (r *refRewriter) add(ref, url string) {
	if r.urls == nil {
		r.urls, r.used = map[string]string{}, map[string]bool{}
	}
	r.urls[ref] = url
}

func (r *refRewriter) write(p []byte) error {
	if len(r.urls) == 0 && len(r.pending) == 0 {
		return r.next(p) // the common case: no attachments, no work
	}
	r.pending = append(r.pending, p...)
	cut := r.safeEnd(r.pending)
	if cut == 0 {
		return nil
	}
	r.out = r.rewrite(r.out[:0], r.pending[:cut])
	r.pending = append(r.pending[:0], r.pending[cut:]...)
	return r.next(r.out)
}

func (r *refRewriter) flush() error {
	if len(r.pending) == 0 {
		return nil
	}
	r.out = r.rewrite(r.out[:0], r.pending)
	r.pending = r.pending[:0]
	return r.next(r.out)
}

// safeEnd returns how much of b cannot be part of an unfinished reference.
func (r *refRewriter) safeEnd(b []byte) int {
	i := bytes.LastIndexByte(b, '[')
	if i < 0 {
		return len(b)
	}
	tail := b[i:]
	if bytes.IndexByte(tail, ']') < 0 || len(tail) > 0 && b[len(b)-1] == ']' && bytes.Count(tail, []byte("]")) == 1 {
		// "[ref" still open, or "[alt]" that a "[ref]" may follow.
		start := i
		if i > 0 && b[i-1] == ']' { // the ref half of "[alt][re": hold the alt half too
			if j := bytes.LastIndexByte(b[:i-1], '['); j >= 0 {
				start = j
			}
		}
		if start > 0 && b[start-1] == '!' {
			start--
		}
		if len(b)-start <= maxRefTail {
			return start
		}
	}
	return len(b)
}

// rewrite copies b to dst, replacing "][ref]" with "](url)" for known refs.
func (r *refRewriter) rewrite(dst, b []byte) []byte {
	for {
		i := bytes.Index(b, []byte("]["))
		if i < 0 {
			return append(dst, b...)
		}
		j := bytes.IndexByte(b[i+2:], ']')
		if j < 0 {
			return append(dst, b...)
		}
		ref := b[i+2 : i+2+j]
		url, ok := r.urls[string(ref)]
		if !ok {
			dst = append(dst, b[:i+1]...)
			b = b[i+1:]
			continue
		}
		r.used[string(ref)] = true
		dst = append(dst, b[:i+1]...)
		dst = append(append(append(dst, '('), url...), ')')
		b = b[i+2+j+1:]
	}
}
