//! Site mode against whoever can reach keyhatch's listener beside the proxy: forged identity
//! headers, addresses that pass for the proxy's, and names the proxy lets through.
