package poeopenai

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/caddyserver/caddy/v2"
)

// tokenStates keeps each Poe key's pool state (rate windows, cooling,
// quarantine) across config reloads, keyed by a hash of the key. A reload
// provisions the new config before cleaning up the old, so a key kept in
// the config never drops to zero references and keeps its state.
var tokenStates = caddy.NewUsagePool()

func tokenStateKey(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "poe_openai/token/" + hex.EncodeToString(sum[:])
}

// fingerprint is what logs show instead of a key: 8 hex digits of SHA-256.
func fingerprint(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:4])
}

func (h *Handler) resolveTokens(repl *caddy.Replacer) ([]string, error) {
	return resolveSecrets(repl, h.PoeKeys, h.PoeKeysFile, "poe_keys_file")
}

// resolveSecrets expands placeholders, splits values that hold several
// keys, adds the keys of file, and drops duplicates.
func resolveSecrets(repl *caddy.Replacer, values []string, file, fileDirective string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(k string) {
		if k != "" && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, v := range values {
		for _, k := range strings.FieldsFunc(repl.ReplaceAll(v, ""), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
			add(k)
		}
	}
	if file != "" {
		keys, err := readKeyFile(repl.ReplaceAll(file, ""))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", fileDirective, err)
		}
		for _, k := range keys {
			add(k)
		}
	}
	return out, nil
}

// readKeyFile reads one key per line; blank lines and # comments are
// skipped.
func readKeyFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read only
	var keys []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		keys = append(keys, line)
	}
	return keys, sc.Err()
}

// keyring checks client keys in constant time. It stores only hashes, and
// every check hashes the presented key and compares it with every stored
// hash, so a missing, malformed or wrong key all take the same time.
type keyring struct {
	hashes [][32]byte
	fps    []string
}

func newKeyring(keys []string) *keyring {
	k := &keyring{}
	for _, key := range keys {
		k.hashes = append(k.hashes, sha256.Sum256([]byte(key)))
		k.fps = append(k.fps, fingerprint(key))
	}
	return k
}

func (k *keyring) empty() bool { return len(k.hashes) == 0 }

// match returns the index of the matching key, or -1.
func (k *keyring) match(presented string) int {
	sum := sha256.Sum256([]byte(presented))
	found := -1
	for i := range k.hashes {
		if subtle.ConstantTimeCompare(sum[:], k.hashes[i][:]) == 1 {
			found = i
		}
	}
	return found
}

// bearer extracts the key from "Authorization: Bearer <key>"; "" when the
// header is missing or malformed.
func bearer(header string) string {
	const prefix = "bearer "
	if len(header) < len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return ""
	}
	return strings.TrimSpace(header[len(prefix):])
}
