//! A person's own files and processes: what they plant in their home, the locks they hold, the
//! quota they fill, the helper they can signal. None of it may reach another person or stop
//! the service.
