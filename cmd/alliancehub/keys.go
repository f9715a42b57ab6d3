package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/alliancehub/alliancehub/auth"
)

func runKeygen(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keygen", "keygen --out FILE", stderr)
	out := fs.String("out", "", "file to write the private JWK to (created 0600; never overwritten)")
	if err := parse(fs, args, "out"); err != nil {
		return err
	}
	k, err := auth.GenerateKey()
	if err != nil {
		return err
	}
	if err := k.WriteFile(*out); err != nil {
		return err
	}
	pub, err := json.MarshalIndent(k.PublicJWK(), "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(pub))
	return nil
}

func runToken(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("token", "token --key FILE --role admin|analyst|program --subject NAME [--program CODE] [--ttl DUR]", stderr)
	keyFile := fs.String("key", "", "private JWK that signs the token (the hub's, or a node's)")
	role := fs.String("role", "", "admin, analyst or program")
	subject := fs.String("subject", "", "who the token is for (a person or service name)")
	program := fs.String("program", "", "program code; required for role program")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token is valid")
	if err := parse(fs, args, "key", "role", "subject"); err != nil {
		return err
	}
	r, err := auth.ParseRole(*role)
	if err != nil {
		return usageError("%v", err)
	}
	if r == auth.RoleProgram && *program == "" {
		return usageError("role program needs --program")
	}
	k, err := auth.LoadKey(*keyFile)
	if err != nil {
		return err
	}
	tok, err := auth.MintToken(k, auth.TokenRequest{Subject: *subject, Role: r, Program: *program, TTL: *ttl})
	if err != nil {
		return usageError("%v", err)
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
