/* A terminal's size and modes, as the platform layer reads and applies them
 * and as the protocol carries them in the spawn request.  Both stand on this
 * header, so neither needs the other.
 *
 * The modes are the platform's own termios values passed through as numbers:
 * sbx and sbx-runner run on the same system, and the receiver applies only
 * the flags it copies from a caller's terminal to a new one (the input,
 * output, control and local flags that describe how a person's terminal
 * behaves; never the hardware flags).  The speeds are the platform's own
 * codes too (POSIX: speed_t, B38400 rather than 38400). */
#ifndef SBX_TERM_H
#define SBX_TERM_H

#define SBX_TTY_NCC 32 /* control characters carried, at most */

struct sbx_tty_size {
    unsigned rows, cols; /* 0: unknown */
};

struct sbx_tty_modes {
    unsigned long iflag, oflag, cflag, lflag;
    unsigned long ispeed, ospeed;
    unsigned char cc[SBX_TTY_NCC];
    unsigned ncc; /* how many of cc[] are meaningful */
};

#endif
