//! Site mode against a signed-in person who wants another person's keys, or wants to stop
//! everyone's service: each test mounts the attack through the real binary.
