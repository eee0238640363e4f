package calcv1

import (
	"context"

	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/mqrpc/mqrpc/runtime"
)

// Server is the Calculator the example serves. Records receives the notes
// of Record calls when it is not nil.
type Server struct {
	Records chan<- string
}

var _ Calculator = Server{}

func (Server) Add(_ context.Context, req *AddRequest) (*AddResponse, error) {
	return &AddResponse{Sum: req.GetA() + req.GetB()}, nil
}

func (Server) Div(_ context.Context, req *DivRequest) (*DivResponse, error) {
	if req.GetB() == 0 {
		return nil, runtime.Errorf(runtime.InvalidArgument, "division of %d by zero", req.GetA())
	}
	return &DivResponse{Quotient: req.GetA() / req.GetB(), Remainder: req.GetA() % req.GetB()}, nil
}

func (s Server) Record(_ context.Context, req *RecordRequest) (*emptypb.Empty, error) {
	if s.Records != nil {
		s.Records <- req.GetNote()
	}
	return &emptypb.Empty{}, nil
}
