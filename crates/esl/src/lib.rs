//! FreeSWITCH Event Socket protocol.
