"""A small ONVIF device for tests: SOAP 1.2 over HTTP on 127.0.0.1 with canned answers of a real camera.

It answers the Profile S calls a client makes to find a stream (``GetSystemDateAndTime``, ``GetServices``,
``GetCapabilities``, media ``GetProfiles`` and ``GetStreamUri``) in the shape a Hikvision-style camera gives
them (two profiles, ``mainStream`` and ``subStream``), and checks the WS-Security UsernameToken of every call
but ``GetSystemDateAndTime`` as a camera does: PasswordDigest = Base64(SHA-1(nonce + created + password)). A
wrong token gets the ONVIF ``ter:NotAuthorized`` fault with HTTP 400. ``silent=True`` accepts connections and
never answers (a hung camera).
"""

from __future__ import annotations

import base64
import hashlib
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from coordinator.broker import free_port

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
}
_DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"

_ENVELOPE = """<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tt="http://www.onvif.org/ver10/schema"
 xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:trt="http://www.onvif.org/ver10/media/wsdl"
 xmlns:ter="http://www.onvif.org/ver10/error"><env:Body>{body}</env:Body></env:Envelope>"""

_NOT_AUTHORIZED = """<env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode>
<env:Value>ter:NotAuthorized</env:Value></env:Subcode></env:Code><env:Reason>
<env:Text xml:lang="en">Sender not Authorized</env:Text></env:Reason></env:Fault>"""

_NOT_SUPPORTED = """<env:Fault><env:Code><env:Value>env:Receiver</env:Value><env:Subcode>
<env:Value>ter:ActionNotSupported</env:Value></env:Subcode></env:Code><env:Reason>
<env:Text xml:lang="en">Optional Action Not Implemented</env:Text></env:Reason></env:Fault>"""

_DATE = """<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType>
<tt:DaylightSavings>false</tt:DaylightSavings><tt:TimeZone><tt:TZ>CST-1:00:00</tt:TZ></tt:TimeZone>
<tt:UTCDateTime><tt:Time><tt:Hour>18</tt:Hour><tt:Minute>4</tt:Minute><tt:Second>51</tt:Second></tt:Time>
<tt:Date><tt:Year>2026</tt:Year><tt:Month>12</tt:Month><tt:Day>7</tt:Day></tt:Date></tt:UTCDateTime>
</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"""

_SERVICES = """<tds:GetServicesResponse>
<tds:Service><tds:Namespace>http://www.onvif.org/ver10/device/wsdl</tds:Namespace>
<tds:XAddr>{base}/onvif/device_service</tds:XAddr><tds:Version><tt:Major>17</tt:Major><tt:Minor>12</tt:Minor>
</tds:Version></tds:Service>
<tds:Service><tds:Namespace>http://www.onvif.org/ver10/media/wsdl</tds:Namespace>
<tds:XAddr>{base}/onvif/Media</tds:XAddr><tds:Version><tt:Major>17</tt:Major><tt:Minor>12</tt:Minor>
</tds:Version></tds:Service>
<tds:Service><tds:Namespace>http://www.onvif.org/ver10/events/wsdl</tds:Namespace>
<tds:XAddr>{base}/onvif/Events</tds:XAddr><tds:Version><tt:Major>17</tt:Major><tt:Minor>12</tt:Minor>
</tds:Version></tds:Service>
</tds:GetServicesResponse>"""

_CAPABILITIES = """<tds:GetCapabilitiesResponse><tds:Capabilities>
<tt:Device><tt:XAddr>{base}/onvif/device_service</tt:XAddr></tt:Device>
<tt:Media><tt:XAddr>{base}/onvif/Media</tt:XAddr><tt:StreamingCapabilities>
<tt:RTPMulticast>true</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP>
</tt:StreamingCapabilities></tt:Media></tds:Capabilities></tds:GetCapabilitiesResponse>"""

_PROFILE = """<trt:Profiles token="{token}" fixed="true"><tt:Name>{name}</tt:Name>
<tt:VideoSourceConfiguration token="VideoSourceToken"><tt:Name>VideoSourceConfig</tt:Name>
<tt:UseCount>2</tt:UseCount><tt:SourceToken>VideoSource_1</tt:SourceToken>
<tt:Bounds x="0" y="0" width="1920" height="1080"/></tt:VideoSourceConfiguration>
<tt:VideoEncoderConfiguration token="VideoEncoderToken_{n}"><tt:Name>VideoEncoder_{n}</tt:Name>
<tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>{width}</tt:Width>
<tt:Height>{height}</tt:Height></tt:Resolution><tt:Quality>3.000000</tt:Quality><tt:RateControl>
<tt:FrameRateLimit>25</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval>
<tt:BitrateLimit>{bitrate}</tt:BitrateLimit></tt:RateControl><tt:H264><tt:GovLength>50</tt:GovLength>
<tt:H264Profile>Main</tt:H264Profile></tt:H264><tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type>
<tt:IPv4Address>0.0.0.0</tt:IPv4Address></tt:Address><tt:Port>8600</tt:Port><tt:TTL>128</tt:TTL>
<tt:AutoStart>false</tt:AutoStart></tt:Multicast><tt:SessionTimeout>PT5S</tt:SessionTimeout>
</tt:VideoEncoderConfiguration></trt:Profiles>"""

_STREAM_URI = """<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>{uri}</tt:Uri>
<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>
<tt:Timeout>PT60S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>"""


def password_digest(nonce_b64: str, created: str, password: str) -> str:
    """WS-Security UsernameToken PasswordDigest, as the camera computes it to check a request."""
    raw = base64.b64decode(nonce_b64) + created.encode() + password.encode()
    return base64.b64encode(hashlib.sha1(raw).digest()).decode()  # SHA-1: the protocol's own choice


class OnvifCamera:
    """The ONVIF device service of a camera whose streams are at ``stream_uris`` (profile token -> URI).

    Attributes:
        calls: Operation names received, in order, with whether their token was valid.
    """

    def __init__(self, user: str, password: str, stream_uris: dict[str, str], *, silent: bool = False) -> None:
        self.user = user
        self.password = password
        self.stream_uris = stream_uris
        self.silent = silent
        self.port = free_port()
        self.calls: list[tuple[str, bool]] = []
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="test-onvif-camera", daemon=True)

    @property
    def address(self) -> str:
        """``onvif://user@127.0.0.1:<port>``: how a box config names this camera."""
        return f"onvif://{self.user}@127.0.0.1:{self.port}"

    def _answer(self, body: bytes) -> tuple[int, str]:
        root = ET.fromstring(body)
        operation = root.find("s:Body/*", NS)
        name = "" if operation is None else operation.tag.rpartition("}")[2]
        ok = self._authorised(root)
        self.calls.append((name, ok))
        base = f"http://127.0.0.1:{self.port}"
        if name == "GetSystemDateAndTime":  # answered without authentication, as the standard requires
            return 200, _DATE
        if not ok:
            return 400, _NOT_AUTHORIZED
        if name == "GetServices":
            return 200, _SERVICES.format(base=base)
        if name == "GetCapabilities":
            return 200, _CAPABILITIES.format(base=base)
        if name == "GetProfiles":
            profiles = [
                _PROFILE.format(token=token, name=pname, n=n, width=w, height=h, bitrate=rate)
                for n, (token, pname, w, h, rate) in enumerate(
                    [("Profile_1", "mainStream", 1920, 1080, 4096), ("Profile_2", "subStream", 640, 360, 512)],
                    start=1)
                if token in self.stream_uris
            ]
            return 200, "<trt:GetProfilesResponse>" + "".join(profiles) + "</trt:GetProfilesResponse>"
        if name == "GetStreamUri" and operation is not None:
            token = operation.findtext("{http://www.onvif.org/ver10/media/wsdl}ProfileToken", "")
            if token in self.stream_uris:
                return 200, _STREAM_URI.format(uri=self.stream_uris[token])
        return 500, _NOT_SUPPORTED

    def _authorised(self, root: ET.Element) -> bool:
        token = root.find("s:Header/wsse:Security/wsse:UsernameToken", NS)
        if token is None:
            return False
        password = token.find("wsse:Password", NS)
        nonce, created = token.findtext("wsse:Nonce", "", NS), token.findtext("wsu:Created", "", NS)
        if password is None or password.get("Type") != _DIGEST or not nonce or not created:
            return False
        return (token.findtext("wsse:Username", "", NS) == self.user
                and password.text == password_digest(nonce, created, self.password))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if camera.silent:
                    camera._release.wait(30)
                    return
                status, text = camera._answer(body)
                data = _ENVELOPE.format(body=text).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/soap+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: object) -> None:
                pass

        return Handler

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> OnvifCamera:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
