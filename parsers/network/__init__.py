"""Network evidence: packet captures and Zeek logs, turned into the same timeline rows.

- ``capture``: pcap and pcapng files read into packets (every section and interface, exact times);
- ``decode``: link, IP and transport layers of each packet;
- ``flows``: packets gathered into connections, closed on FIN/RST and timeouts;
- application protocols (DNS, HTTP, TLS, SSH...) read from the flows' payloads;
- ``records``: Zeek-shaped records (plain dicts keyed by Zeek's field names, ``id.orig_h``,
  ``query``, ``server_name``...) -> timeline rows, one mapping per log type. Both the capture
  parser and the Zeek log parser (``parsers.zeek``) hand their records to it, so a flow seen in
  a capture and the same flow in Zeek's ``conn.log`` become the same row.
"""
