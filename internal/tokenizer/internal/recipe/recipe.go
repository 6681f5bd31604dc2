// Package recipe makes the long texts of the tokenizer's tests from the
// one-line recipes of testdata/long.txt, for the tests and for the
// generator that writes their reference counts: both must make the same
// bytes, so there is one copy.
package recipe

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Xorshift is a tiny generator whose output no Go release changes.
type Xorshift uint64

// Intn returns a number in [0, n).
func (x *Xorshift) Intn(n int) int {
	*x ^= *x << 13
	*x ^= *x >> 7
	*x ^= *x << 17
	return int(uint64(*x) % uint64(n))
}

// RandomText is n bytes of words drawn from alphabet.
func RandomText(seed uint64, n int, alphabet ...string) string {
	x := Xorshift(seed)
	var b strings.Builder
	b.Grow(n + 8)
	for b.Len() < n {
		b.WriteString(alphabet[x.Intn(len(alphabet))])
	}
	return b.String()[:n]
}

func brokenRun(seed uint64, n int, unit string, every int) string {
	x := Xorshift(seed)
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(strings.Repeat(unit, (every/2+x.Intn(every))/len(unit)))
		b.WriteByte(byte('a' + x.Intn(26)))
	}
	return b.String()[:n]
}

// Parse returns the names and recipes of a long.txt file.
func Parse(file string) (names, recipes []string) {
	for _, line := range strings.Split(file, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name, recipe, _ := strings.Cut(line, " ")
		names, recipes = append(names, name), append(recipes, recipe)
	}
	return names, recipes
}

// Text makes the text of a recipe at n bytes.
func Text(recipe string, n int) (string, error) {
	kind, rest, _ := strings.Cut(recipe, " ")
	var args []string
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimSpace(rest) {
		if rest[0] == '"' {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return "", err
			}
			u, _ := strconv.Unquote(q)
			args, rest = append(args, u), rest[len(q):]
		} else {
			f, r, _ := strings.Cut(rest, " ")
			args, rest = append(args, f), r
		}
	}
	switch {
	case kind == "rep" && (len(args) == 1 || len(args) == 2):
		s := strings.Repeat(args[0], n/len(args[0]))
		if len(args) == 2 {
			s += args[1]
		}
		return s, nil
	case kind == "rand" && len(args) >= 2:
		seed, err := strconv.ParseUint(args[0], 10, 64)
		return RandomText(seed, n, args[1:]...), err
	case kind == "broken" && len(args) == 3:
		seed, err1 := strconv.ParseUint(args[0], 10, 64)
		every, err2 := strconv.Atoi(args[2])
		return brokenRun(seed, n, args[1], every), errors.Join(err1, err2)
	}
	return "", fmt.Errorf("bad recipe %q", recipe)
}
