// Package node is a program's server: the system of record for its own Alliances, which
// it validates by the program's rules, signs revision by revision, keeps durably and
// pushes to the hub.
package node
