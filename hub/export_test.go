package hub

import "time"

// NoteContact records a pull from program at at, as the change feed does.
func (h *Hub) NoteContact(program string, at time.Time) { h.noteContact(program, at) }

// SetHeartbeat shortens the long poll's heartbeat for a test and returns the undo.
func SetHeartbeat(d time.Duration) func() {
	old := heartbeatEvery
	heartbeatEvery = d
	return func() { heartbeatEvery = old }
}
