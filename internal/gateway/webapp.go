package gateway

import (
	"context"

	"github.com/google/uuid"
)

// partyVideo is a party's video URL from the party cache, for the web
// app's party page (web.Options.PartyVideo).
func (g *Gateway) partyVideo(ctx context.Context, id uuid.UUID) (string, error) {
	p, err := g.parties.get(ctx, id)
	if err != nil {
		return "", err
	}
	return p.VideoURL, nil
}
