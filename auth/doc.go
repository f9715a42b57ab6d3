// Package auth holds the project's keys and signatures: Ed25519 keys as JWK files, JWS
// signing and verification with an algorithm allow-list, JWKS documents and the bearer
// tokens (JWT) people and services present.
package auth
