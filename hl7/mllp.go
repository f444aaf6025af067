package hl7

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MLLP frame bytes: <VT> message <FS><CR>.
const (
	StartBlock     byte = 0x0b
	EndBlock       byte = 0x1c
	CarriageReturn byte = 0x0d
)

// ErrFrameTooLarge means a frame exceeded the reader's limit.
var ErrFrameTooLarge = errors.New("mllp: frame larger than the limit")

// FrameReader reads MLLP frames from a stream. Frames may arrive split
// across reads or several in one read; bytes between frames are ignored.
type FrameReader struct {
	r   *bufio.Reader
	max int
}

// NewFrameReader reads frames of at most max bytes.
func NewFrameReader(r io.Reader, max int) *FrameReader {
	return &FrameReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// Next returns the next frame's content. io.EOF at a clean end of stream;
// io.ErrUnexpectedEOF if the stream ends inside a frame.
func (f *FrameReader) Next() ([]byte, error) {
	for { // skip to the start block
		c, err := f.r.ReadByte()
		if err != nil {
			return nil, err
		}
		if c == StartBlock {
			break
		}
	}
	var buf bytes.Buffer
	for {
		chunk, err := f.r.ReadSlice(EndBlock)
		if buf.Len()+len(chunk) > f.max+1 {
			return nil, fmt.Errorf("%w (%d bytes)", ErrFrameTooLarge, f.max)
		}
		buf.Write(chunk)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		// <FS> must be followed by <CR>; tolerate a missing CR at the very end.
		next, err := f.r.Peek(1)
		if err == nil && next[0] == CarriageReturn {
			f.r.ReadByte()
		}
		msg := buf.Bytes()[:buf.Len()-1]
		if bytes.IndexByte(msg, StartBlock) >= 0 {
			return nil, errors.New("mllp: start block inside a frame")
		}
		return msg, nil
	}
}

// WriteFrame writes msg as one MLLP frame.
func WriteFrame(w io.Writer, msg []byte) error {
	if bytes.IndexByte(msg, StartBlock) >= 0 || bytes.IndexByte(msg, EndBlock) >= 0 {
		return errors.New("mllp: message contains a framing byte")
	}
	frame := make([]byte, 0, len(msg)+3)
	frame = append(frame, StartBlock)
	frame = append(frame, msg...)
	frame = append(frame, EndBlock, CarriageReturn)
	_, err := w.Write(frame)
	return err
}
