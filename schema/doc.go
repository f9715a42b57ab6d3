// Package schema defines the records programs publish (Alliances and their signed
// revisions), the program definitions that give each program its goal categories and
// terms, and the validation that reports every failing field at once.
package schema
