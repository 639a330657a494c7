package event

// Viewers is a sample of the party's viewer count, taken by the flusher;
// it has no user.
const Viewers Type = "viewers"

func init() {
	declare(Kind{Type: Viewers,
		payload:   []field{viewersField},
		missing:   "viewers event without count",
		Anonymous: true,
		Store:     ViewerCounts,
	})
}
