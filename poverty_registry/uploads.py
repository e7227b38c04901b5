"""Uploads the server could not receive: a full or unwritable temporary folder (FILE_UPLOAD_TEMP_DIR) while Django
spools a large upload to disk. Django would raise from wherever the form data is first read (the CSRF check), a bare
500; this handler drops the file instead and marks the request, for the page to say why."""
from __future__ import annotations

import logging

from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler

logger = logging.getLogger(__name__)

UPLOAD_NOT_STORED = "服务器临时存储空间不足或不可写，文件未能接收，未保存任何内容。请稍后再试或联系系统管理员"


class SpoolingUploadHandler(TemporaryFileUploadHandler):
    """Django's handler for uploads too large for memory, giving up cleanly when the disk refuses."""

    def new_file(self, *args, **kwargs):
        try:
            super().new_file(*args, **kwargs)
        except OSError:
            self._give_up()

    def receive_data_chunk(self, raw_data, start):
        try:
            return super().receive_data_chunk(raw_data, start)
        except OSError:
            self._give_up()

    def _give_up(self):
        logger.exception("上传文件未能写入临时目录")
        self.request.upload_not_stored = True
        if getattr(self, "file", None) is not None:
            self.file.close()
        raise StopUpload(connection_reset=False)


def upload_not_stored(request) -> bool:
    """Whether a file of this request was dropped because the server could not store it."""
    return getattr(request, "upload_not_stored", False)
