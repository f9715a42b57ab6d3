package auth

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Role is what a bearer may do.
type Role string

// Roles (CONTRACT.md): admin enrolls programs and manages keys; analyst reads the
// national roster; program acts for one program (its staff, or its node talking to the
// hub).
const (
	RoleAdmin   Role = "admin"
	RoleAnalyst Role = "analyst"
	RoleProgram Role = "program"
)

// ParseRole accepts the three role names.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAdmin, RoleAnalyst, RoleProgram:
		return r, nil
	}
	return "", fmt.Errorf("role %q: want admin, analyst or program", s)
}

// Audience is the "aud" every token carries and every server requires.
const Audience = "alliancehub"

// Leeway absorbs small clock differences between the minting and the checking machine.
const Leeway = 30 * time.Second

// MaxTTL bounds a token's life: long enough for a service account's monthly rotation,
// short enough that a leaked token dies.
const MaxTTL = 90 * 24 * time.Hour

// Claims are a bearer token's claims.
type Claims struct {
	jwt.Claims
	Role    Role   `json:"role"`
	Program string `json:"program,omitempty"`
}

// Token errors, matched with errors.Is.
var (
	ErrTokenMissing = errors.New("no bearer token")
	ErrTokenExpired = errors.New("token expired")
	ErrTokenInvalid = errors.New("token invalid")
)

// TokenRequest describes a token to mint.
type TokenRequest struct {
	Subject string
	Role    Role
	Program string // required for role program
	TTL     time.Duration
	Now     time.Time
}

// MintToken signs a bearer token with s.
func MintToken(s Signer, r TokenRequest) (string, error) {
	if _, err := ParseRole(string(r.Role)); err != nil {
		return "", err
	}
	if r.Subject == "" {
		return "", errors.New("token: subject is required")
	}
	if r.Role == RoleProgram && r.Program == "" {
		return "", errors.New("token: role program needs a program")
	}
	if r.TTL <= 0 || r.TTL > MaxTTL {
		return "", fmt.Errorf("token: ttl must be between 1s and %s", MaxTTL)
	}
	now := r.Now
	if now.IsZero() {
		now = time.Now()
	}
	c := Claims{
		Claims: jwt.Claims{
			Subject:   r.Subject,
			Audience:  jwt.Audience{Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			Expiry:    jwt.NewNumericDate(now.Add(r.TTL)),
		},
		Role:    r.Role,
		Program: r.Program,
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	return s.Sign(payload, TypeToken)
}

// VerifyToken checks a bearer token's signature against keys, its audience, its times
// (with Leeway) and its role, and returns its claims and the key id that signed it.
func VerifyToken(raw string, keys KeyLookup, now time.Time) (*Claims, string, error) {
	c, kid, _, err := verifyTokenSignature(raw, keys)
	if err != nil {
		return nil, "", err
	}
	if err := checkClaims(c, now); err != nil {
		return nil, "", err
	}
	return c, kid, nil
}

// verifyTokenSignature checks what a token's text alone settles: its form, its type,
// its signature by a key keys accepts now, and claim names that read one way only. It
// returns the claims, the signing key's id and that key.
func verifyTokenSignature(raw string, keys KeyLookup) (*Claims, string, ed25519.PublicKey, error) {
	if raw == "" {
		return nil, "", nil, ErrTokenMissing
	}
	// A token spelled in base64url that is not canonical is refused, as Verify refuses
	// it (VerifyBytes): go-jose would accept every spelling of one signed token.
	if _, _, _, err := decodeCompact([]byte(raw)); err != nil {
		return nil, "", nil, fmt.Errorf("%w: not a signed JWT", ErrTokenInvalid)
	}
	tok, err := jwt.ParseSigned(raw, Algorithms)
	if err != nil || len(tok.Headers) != 1 {
		return nil, "", nil, fmt.Errorf("%w: not a signed JWT", ErrTokenInvalid)
	}
	kid := tok.Headers[0].KeyID
	if typ, _ := tok.Headers[0].ExtraHeaders[jose.HeaderType].(string); typ != TypeToken {
		return nil, "", nil, fmt.Errorf("%w: typ %q is not a bearer token", ErrTokenInvalid, typ)
	}
	pub, err := lookupTokenKey(keys, kid)
	if err != nil {
		return nil, "", nil, err
	}
	var c Claims
	if err := tok.Claims(pub, &c); err != nil {
		return nil, "", nil, fmt.Errorf("%w: signature does not verify", ErrTokenInvalid)
	}
	// go-jose reads claim names case-sensitively, encoding/json does not: a payload
	// with both "sub" and "SUB" would mean one thing here and another to any tool
	// that reads the token. Refuse what can be read two ways.
	if obj, err := jose.ParseSignedCompact(raw, Algorithms); err == nil {
		payload := obj.UnsafePayloadWithoutVerification()
		if err := uniqueNames(payload); err != nil {
			return nil, "", nil, fmt.Errorf("%w: %v", ErrTokenInvalid, err)
		}
		if err := exactClaimNames(payload); err != nil {
			return nil, "", nil, fmt.Errorf("%w: %v", ErrTokenInvalid, err)
		}
	}
	return &c, kid, pub, nil
}

// lookupTokenKey is the key kid names, if keys accepts it now.
func lookupTokenKey(keys KeyLookup, kid string) (ed25519.PublicKey, error) {
	pub, err := keys.LookupKey(kid)
	if err != nil {
		// Say why (an unknown key, or one revoked or outside its validity window, with
		// its times), so the holder knows whether to rotate, re-enroll or ask an admin.
		return nil, fmt.Errorf("%w: signed by a key this server does not accept: %v", ErrTokenInvalid, err)
	}
	return pub, nil
}

// checkClaims checks what may change with time or was left to the claims: audience,
// expiry and not-before as of now, a bounded lifetime, and a known role.
func checkClaims(c *Claims, now time.Time) error {
	err := c.ValidateWithLeeway(jwt.Expected{AnyAudience: jwt.Audience{Audience}, Time: now}, Leeway)
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return ErrTokenExpired
	case err != nil:
		return fmt.Errorf("%w: %v", ErrTokenInvalid, trimJoseErr(err))
	case c.Expiry == nil || c.IssuedAt == nil:
		return fmt.Errorf("%w: no expiry or issue time", ErrTokenInvalid)
	case c.Expiry.Time().Sub(c.IssuedAt.Time()) > MaxTTL:
		return fmt.Errorf("%w: valid for longer than %s", ErrTokenInvalid, MaxTTL)
	}
	if _, err := ParseRole(string(c.Role)); err != nil {
		return fmt.Errorf("%w: %v", ErrTokenInvalid, err)
	}
	if c.Role == RoleProgram && c.Program == "" {
		return fmt.Errorf("%w: role program without a program", ErrTokenInvalid)
	}
	return nil
}

// TokenCache remembers the bearer tokens whose signatures verified, so that a client
// sending one token with every request costs one Ed25519 verification, not one per
// request (issue 7: a quarter of a roster query's CPU over HTTP went to it). It keeps
// only what a token's text settles for good: its claims and the key that signed it.
// Every use still asks keys whether that key is accepted now (a revoked key's tokens
// are refused from its revocation on) and that it is the same key, and checks the
// claims' times against now. The zero value is ready; it holds at most
// tokenCacheSize tokens. Its methods may be called concurrently.
type TokenCache struct {
	mu   sync.RWMutex
	seen map[string]verifiedToken
}

// tokenCacheSize bounds a TokenCache: some 4,096 clients' tokens of about 400 bytes.
const tokenCacheSize = 4096

type verifiedToken struct {
	claims Claims
	kid    string
	pub    ed25519.PublicKey
}

// Verify is VerifyToken, from what c remembers of raw when it can.
func (tc *TokenCache) Verify(raw string, keys KeyLookup, now time.Time) (*Claims, string, error) {
	tc.mu.RLock()
	v, ok := tc.seen[raw]
	tc.mu.RUnlock()
	if ok {
		pub, err := lookupTokenKey(keys, v.kid)
		if err != nil {
			return nil, "", err
		}
		if pub.Equal(v.pub) {
			c := v.claims
			if err := checkClaims(&c, now); err != nil {
				if errors.Is(err, ErrTokenExpired) {
					tc.forget(raw)
				}
				return nil, "", err
			}
			return &c, v.kid, nil
		}
		tc.forget(raw) // another key under that id: verify again
	}
	c, kid, pub, err := verifyTokenSignature(raw, keys)
	if err != nil {
		return nil, "", err
	}
	if err := checkClaims(c, now); err != nil {
		return nil, "", err
	}
	tc.mu.Lock()
	if tc.seen == nil {
		tc.seen = make(map[string]verifiedToken)
	}
	for k := range tc.seen { // full: make room by forgetting any one
		if len(tc.seen) < tokenCacheSize {
			break
		}
		delete(tc.seen, k)
	}
	tc.seen[raw] = verifiedToken{claims: *c, kid: kid, pub: pub}
	tc.mu.Unlock()
	return c, kid, nil
}

func (tc *TokenCache) forget(raw string) {
	tc.mu.Lock()
	delete(tc.seen, raw)
	tc.mu.Unlock()
}

func trimJoseErr(err error) string {
	const prefix = "go-jose/go-jose/jwt: validation failed, "
	s := err.Error()
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):]
	}
	return s
}

// JWKS is a JSON Web Key Set of public keys.
func JWKS(keys ...jose.JSONWebKey) jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: keys}
}

// uniqueNames refuses a JSON document in which an object names a member twice, also
// when the two names differ only in case (encoding/json matches names case-insensitively,
// so either spelling could win depending on the reader).
func uniqueNames(doc []byte) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	type frame struct {
		object bool
		seen   map[string]bool
		key    bool // the next token in an object is a name
	}
	var stack []frame
	for {
		t, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("payload: %v", err)
		}
		if n := len(stack); n > 0 && stack[n-1].object {
			top := &stack[n-1]
			if top.key {
				if name, ok := t.(string); ok {
					folded := strings.ToLower(strings.ToUpper(name))
					if top.seen[folded] {
						return fmt.Errorf("payload names %q more than once (names are compared ignoring case)", name)
					}
					top.seen[folded] = true
					top.key = false
					continue
				}
			} else {
				top.key = true
			}
		}
		switch t {
		case json.Delim('{'):
			stack = append(stack, frame{object: true, seen: map[string]bool{}, key: true})
		case json.Delim('['):
			stack = append(stack, frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}

// claimNames are the claims a token may carry, spelled as this package reads them.
var claimNames = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "role", "program"}

// exactClaimNames refuses a claim spelled in another case than its name ("SUB" alone):
// go-jose would not read it, encoding/json would, so two readers would disagree on
// what the token says. Claims this package does not know are left alone.
func exactClaimNames(payload []byte) error {
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil {
		return fmt.Errorf("payload: %v", err)
	}
	for name := range claims {
		for _, want := range claimNames {
			if name != want && strings.EqualFold(name, want) {
				return fmt.Errorf("claim %q is spelled %q; claim names are lower case", want, name)
			}
		}
	}
	return nil
}

// Len is the number of tokens c remembers.
func (tc *TokenCache) Len() int {
	tc.mu.RLock()
	defer tc.mu.RUnlock()
	return len(tc.seen)
}
