package tokenizer

import (
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// longRecipes lists long inputs without a break, the ones that strain the
// merge: long runs of one byte or character, random text without spaces,
// invalid UTF-8. The reference counts them at 1 MiB.
//
//go:embed testdata/long.txt
var longRecipes string

type namedText struct{ name, text string }

// pathological returns n bytes of English prose, the yardstick, then each
// input of testdata/long.txt at n bytes.
func pathological(n int) []namedText {
	english := corpus[:strings.Index(corpus, "## Changes")]
	out := []namedText{{"english", strings.Repeat(english, n/len(english)+1)[:n]}}
	for _, line := range strings.Split(longRecipes, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name, recipe, _ := strings.Cut(line, " ")
		s, err := fromRecipe(recipe, n)
		if err != nil {
			panic(name + ": " + err.Error())
		}
		out = append(out, namedText{name, s})
	}
	return out
}

// The recipe code below has a copy in internal/gen/recipe.go: keep the two
// in step. xorshift is a tiny generator whose output no Go release changes.

type xorshift uint64

func (x *xorshift) intn(n int) int {
	*x ^= *x << 13
	*x ^= *x >> 7
	*x ^= *x << 17
	return int(uint64(*x) % uint64(n))
}

func randomText(seed uint64, n int, alphabet ...string) string {
	x := xorshift(seed)
	var b strings.Builder
	b.Grow(n + 8)
	for b.Len() < n {
		b.WriteString(alphabet[x.intn(len(alphabet))])
	}
	return b.String()[:n]
}

func brokenRun(seed uint64, n int, unit string, every int) string {
	x := xorshift(seed)
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(strings.Repeat(unit, (every/2+x.intn(every))/len(unit)))
		b.WriteByte(byte('a' + x.intn(26)))
	}
	return b.String()[:n]
}

// fromRecipe makes the text of a recipe at n bytes.
func fromRecipe(recipe string, n int) (string, error) {
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
		return randomText(seed, n, args[1:]...), err
	case kind == "broken" && len(args) == 3:
		seed, err1 := strconv.ParseUint(args[0], 10, 64)
		every, err2 := strconv.Atoi(args[2])
		return brokenRun(seed, n, args[1], every), errors.Join(err1, err2)
	}
	return "", fmt.Errorf("bad recipe %q", recipe)
}
