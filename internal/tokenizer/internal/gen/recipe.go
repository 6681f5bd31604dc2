package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The recipes of testdata/long.txt. This is a copy of the code in the
// tokenizer's patho_test.go: keep the two in step (the reference counts
// would stop matching).

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

// recipes returns the names and recipes of a long.txt file.
func recipes(file string) (names, recipes []string) {
	for _, line := range strings.Split(file, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name, recipe, _ := strings.Cut(line, " ")
		names, recipes = append(names, name), append(recipes, recipe)
	}
	return names, recipes
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
