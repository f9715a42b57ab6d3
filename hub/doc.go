// Package hub is federal OSHA's server: it enrolls programs and their keys, verifies the
// signed records nodes push, makes them durable and reconciles them into the national
// roster it serves to DCSP.
package hub
